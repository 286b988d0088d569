"""``vahva outbox``: deliver the texts, calls and mail a stopped process left waiting.

Every text, call and mail normally leaves right after its transaction commits. A process
that stops in between (a deploy, a crash) leaves the message pending; run this every minute
(cron, a systemd timer, a Kubernetes CronJob) to send what is still worth sending and expire
the rest. Safe to run on several nodes at once: each message is claimed by one of them.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from vahva import clock
from vahva.gateways import outbox


class Command(BaseCommand):
    help = "Deliver texts, calls and mail left waiting in the outbox; expire the stale ones."

    def handle(self, *args: Any, **options: Any) -> None:
        done = outbox.sweep(now=clock.now())
        self.stdout.write(
            f"outbox: {done.sent} sent, {done.failed} failed, {done.expired} expired, "
            f"{done.interrupted} interrupted, {done.deleted} old rows deleted"
        )
