"""Saving feedback, at most ``VAHVA['FEEDBACK_PER_HOUR']`` messages per client address an hour."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from django.db import transaction
from django.utils.crypto import salted_hmac
from django.utils.translation import ngettext_lazy

from vahva.conf import settings
from vahva.errors import RateLimited

from .models import Feedback, Sender

HOUR = dt.timedelta(hours=1)


def client_key(ip: str | None) -> str:
    """A keyed hash of the client's address (the address itself is not kept)."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        source = "unknown"
    else:
        # Spam from rotating addresses: one IPv6 host usually holds a whole /64, so the limit
        # counts the /64, not each of its 2**64 addresses.
        if address.version == 6:
            source = str(ipaddress.ip_network(f"{address}/64", strict=False))
        else:
            source = str(address)
    return salted_hmac("vahva.feedback.client", source, algorithm="sha256").hexdigest()


def submit(
    *, message: str, name: str, contact: str, person: Any, ip: str | None, now: dt.datetime
) -> Feedback:
    """Save one feedback message; RateLimited when this address has sent its hourly share."""
    key = client_key(ip)
    with transaction.atomic():
        # Reserve first: the sender's row is locked before the hour's messages are counted,
        # so a burst of parallel posts is counted one by one and only the hourly share gets in.
        Sender.objects.bulk_create([Sender(client=key)], ignore_conflicts=True)
        Sender.objects.select_for_update().get(client=key)
        recent = list(
            Feedback.objects.filter(client=key, created_at__gt=now - HOUR)
            .order_by("created_at")
            .values_list("created_at", flat=True)[: settings.FEEDBACK_PER_HOUR]
        )
        if len(recent) >= settings.FEEDBACK_PER_HOUR:
            # Spam flooding the admins' list: the oldest message in the hour frees a place.
            wait = (recent[0] + HOUR - now).total_seconds()
            minutes = max(1, int(wait + 59) // 60)
            raise RateLimited(
                wait,
                ngettext_lazy(
                    "You have sent a lot of feedback in the last hour. "
                    "Try again in %(minutes)d minute.",
                    "You have sent a lot of feedback in the last hour. "
                    "Try again in %(minutes)d minutes.",
                    "minutes",
                )
                % {"minutes": minutes},
            )
        return Feedback.objects.create(
            created_at=now,
            message=message,
            name=name,
            contact=contact,
            person=person if getattr(person, "is_authenticated", False) else None,
            client=key,
        )
