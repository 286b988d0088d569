"""The registration campaign: people without a method are asked to register at sign-in; they
may answer "Not now" for REGISTRATION_SNOOZE_DAYS days at most REGISTRATION_MAX_SNOOZES times,
then registering is required before they get anywhere else (:class:`CampaignMiddleware`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from vahva.conf import settings
from vahva.methods import service as methods

from .models import Snooze

#: Set in the session of a person who must register now; cleared once they have a method.
SESSION_MUST_REGISTER = "vahva_must_register"
#: Where such a person may still go: the wizard and Security info, signing out, help, the
#: language switch, static files, the sign-in pages (re-authentication), and what a phone
#: opens while it is being set up (the vahva app and its API, the dev phone).
OPEN_PATHS = (
    "/security-info/",
    "/signout/",
    "/signin/",
    "/help/",
    "/i18n/",
    "/static/",
    "/app/",
    "/api/device/",
    "/dev/phone/",
)


@dataclass(frozen=True)
class Standing:
    snoozes_left: int
    snoozed_until: dt.datetime | None


def standing(user: Any, *, now: dt.datetime) -> Standing:
    row = Snooze.objects.filter(user_id=user.pk).first()
    used = row.count if row else 0
    until = row.until if row and row.until > now else None
    return Standing(max(settings.REGISTRATION_MAX_SNOOZES - used, 0), until)


def snooze(user: Any, *, now: dt.datetime) -> Standing | None:
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


class CampaignMiddleware:
    """Keeps a person who must register in the wizard until they have a method.

    Without it the wizard's missing "Not now" button would be a suggestion: the person could
    type the service's address and carry on with the password alone.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_MUST_REGISTER):
            user = request.user
            if not user.is_authenticated or methods.has_methods(user):
                del session[SESSION_MUST_REGISTER]
            elif not request.path.startswith(OPEN_PATHS):
                return redirect("registration:setup")
        return self.get_response(request)
