"""Throttling of failed sign-in steps, shared by all nodes through the database.

A key (``pw:ip:…``, ``mfa:acct:…``) gets ``free`` failures, then must wait ``base`` seconds,
doubling with each further failure up to ``cap``. A success clears the account's key. The
account key for passwords is replaced by a per-browser key when the browser has signed in
to that account before (OWASP "device cookies"), so an attacker hammering the account from
elsewhere slows down only browsers the account has never used: the person cannot be locked
out for good by someone who does not know the password.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import F

from vahva.errors import Locked, RateLimited


@dataclass(frozen=True)
class Rule:
    free: int
    base: float
    cap: float
    limit: int | None
    forget: int | None

    @classmethod
    def from_setting(cls, value: Mapping[str, Any]) -> Rule:
        return cls(**value)


def effective_failures(
    rule: Rule, failures: int, last: dt.datetime | None, now: dt.datetime
) -> int:
    """Failures that still count: none once ``forget`` seconds have passed since the last."""
    if last is None:
        return 0
    if rule.forget is not None and (now - last).total_seconds() >= rule.forget:
        return 0
    return failures


def wait_seconds(rule: Rule, failures: int, last: dt.datetime | None, now: dt.datetime) -> float:
    """Seconds until the next try is allowed (0 = now). Pure; the table tests use it."""
    failures = effective_failures(rule, failures, last, now)
    if failures < rule.free or last is None:
        return 0.0
    # The exponent is bounded so that 2**n never overflows however long an attack runs.
    delay = min(rule.base * 2.0 ** min(failures - rule.free, 32), rule.cap)
    return max(0.0, delay - (now - last).total_seconds())


def is_locked(rule: Rule, failures: int, last: dt.datetime | None, now: dt.datetime) -> bool:
    return rule.limit is not None and effective_failures(rule, failures, last, now) >= rule.limit


class Throttle(models.Model):
    key = models.CharField(max_length=200, primary_key=True)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True)

    class Meta:
        app_label = "signin"

    def __str__(self) -> str:
        return f"{self.key}: {self.failures}"


Keys = Iterable[tuple[str, Rule]]


def check(keys: Keys, *, now: dt.datetime) -> None:
    """Raise Locked or RateLimited if any key may not try now."""
    keys = list(keys)
    rows = {t.key: t for t in Throttle.objects.filter(key__in=[k for k, _ in keys])}
    longest = 0.0
    for key, rule in keys:
        row = rows.get(key)
        if row is None:
            continue
        if is_locked(rule, row.failures, row.last_failure_at, now):
            raise Locked()
        longest = max(longest, wait_seconds(rule, row.failures, row.last_failure_at, now))
    if longest > 0:
        raise RateLimited(longest)


def fail(keys: Keys, *, now: dt.datetime) -> None:
    """Count one failure on every key, atomically (parallel failures all count)."""
    for key, rule in keys:
        row = Throttle.objects.filter(key=key).first()
        if (
            row is not None
            and effective_failures(rule, row.failures, row.last_failure_at, now) == 0
        ):
            # The old failures were forgotten: start counting afresh.
            Throttle.objects.filter(key=key).update(failures=1, last_failure_at=now)
            continue
        if Throttle.objects.filter(key=key).update(failures=F("failures") + 1, last_failure_at=now):
            continue
        try:
            with transaction.atomic():
                Throttle.objects.create(key=key, failures=1, last_failure_at=now)
        except IntegrityError:
            # Another request created the row in between; count on it instead.
            Throttle.objects.filter(key=key).update(failures=F("failures") + 1, last_failure_at=now)


def clear(keys: Iterable[str]) -> None:
    Throttle.objects.filter(key__in=list(keys)).delete()


def failures_of(key: str) -> int:
    row = Throttle.objects.filter(key=key).first()
    return row.failures if row else 0
