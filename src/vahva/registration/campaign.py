"""The registration campaign: people without a method are asked to register at sign-in; they
may answer "Not now" for REGISTRATION_SNOOZE_DAYS days at most REGISTRATION_MAX_SNOOZES times,
then registering is required before they get anywhere else (:class:`CampaignMiddleware`)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from vahva import clock
from vahva.accounts.models import User
from vahva.methods import service as methods
from vahva.policy.campaign import Standing, snooze, standing
from vahva.signin.requirements import SESSION_MUST_REGISTER, is_staff

__all__ = ["SESSION_MUST_REGISTER", "CampaignMiddleware", "Standing", "snooze", "standing"]
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
            if (
                not isinstance(user, User)
                or not user.is_authenticated
                or methods.has_methods(user)
                or (not is_staff(user) and standing(user, now=clock.now()).snoozed_until)
            ):
                del session[SESSION_MUST_REGISTER]
            elif not request.path.startswith(OPEN_PATHS):
                return redirect("registration:setup")
        return self.get_response(request)
