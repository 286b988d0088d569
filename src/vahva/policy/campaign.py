"""The registration campaign's state: people without a method are asked to register at
sign-in; they may answer "Not now" for REGISTRATION_SNOOZE_DAYS days at most
REGISTRATION_MAX_SNOOZES times, then registering is required (:func:`vahva.policy.decide`
says so with ``must_register``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F

from vahva.conf import settings

from .models import Snooze

if TYPE_CHECKING:
    from vahva.accounts.models import User


@dataclass(frozen=True)
class Standing:
    snoozes_left: int
    snoozed_until: dt.datetime | None


def standing(user: User, *, now: dt.datetime) -> Standing:
    row = Snooze.objects.filter(user_id=user.pk).first()
    used = row.count if row else 0
    until = row.until if row and row.until > now else None
    return Standing(max(settings.REGISTRATION_MAX_SNOOZES - used, 0), until)


def snooze(user: User, *, now: dt.datetime) -> Standing | None:
    """Put registering off for REGISTRATION_SNOOZE_DAYS; None when no snoozes are left."""
    until = now + dt.timedelta(days=settings.REGISTRATION_SNOOZE_DAYS)
    limit = settings.REGISTRATION_MAX_SNOOZES
    with transaction.atomic():
        Snooze.objects.get_or_create(user_id=user.pk, defaults={"count": 0, "until": now})
        # Conditional UPDATE: two tabs answering "Not now" at once use up two snoozes, never
        # more than the limit.
        taken = Snooze.objects.filter(user_id=user.pk, count__lt=limit).update(
            count=F("count") + 1, until=until
        )
    if not taken:
        return None
    return standing(user, now=now)
