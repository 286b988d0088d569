"""What is the case now, read from the database when /metrics is scraped.

The database is the source of truth for these, so every worker and node reports the same
value. Each is one indexed count over a short window (pushes that have not expired yet, sends
of the last day), not a scan of a table that grows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from vahva import clock
from vahva.conf import settings

from .counters import channels

DAY = dt.timedelta(days=1)


class StateCollector(Collector):
    """Gauges computed from the database at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import Count

        from vahva.authenticator.models import PushChallenge
        from vahva.methods.models import PhoneSend

        now = clock.now()
        waiting = GaugeMetricFamily(
            "vahva_push_pending",
            "Push requests waiting for an answer from the phone (not expired), by purpose: "
            "signin, test (an enrolment's test notification), helpdesk (a caller check).",
            labels=["purpose"],
        )
        pending = (
            PushChallenge.objects.filter(state=PushChallenge.State.PENDING, expires_at__gt=now)
            .values("purpose")
            .annotate(n=Count("pk"))
        )
        counts = {str(row["purpose"]): int(row["n"]) for row in pending}
        for purpose in PushChallenge.Purpose.values:
            waiting.add_metric([str(purpose)], counts.get(str(purpose), 0))
        yield waiting

        sends = GaugeMetricFamily(
            "vahva_phone_sends_last_day",
            "Texts and calls sent in the last 24 hours, which the daily cap counts.",
            labels=["channel"],
        )
        by_channel = (
            PhoneSend.objects.filter(at__gt=now - DAY).values("channel").annotate(n=Count("pk"))
        )
        sent = {str(row["channel"]): int(row["n"]) for row in by_channel}
        for channel in channels():
            sends.add_metric([channel], sent.get(channel, 0))
        yield sends

        yield GaugeMetricFamily(
            "vahva_phone_daily_cap",
            "The most texts and calls the whole deployment sends in 24 hours.",
            value=int(settings.PHONE_DAILY_CAP),
        )
