"""Signs a browser out when its session ran out (idle, absolute lifetime) or was ended from
another browser, and says why on the next page."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from vahva import clock
from vahva.conf import settings

from . import service
from .service import Status

#: Requests a page makes by itself while it waits (sign-in and enrolment status polls, their
#: event streams). They are checked like any request, but are not activity: a tab left open
#: on a waiting page must not keep its session alive past the idle timeout.
PASSIVE_VIEWS = frozenset(
    {
        "signin:verify_status",
        "signin:verify_events",
        "registration:enrol_status",
        "registration:setup_enrol_status",
    }
)


def _passive(request: HttpRequest) -> bool:
    try:
        return resolve(request.path_info).view_name in PASSIVE_VIEWS
    except Resolver404:
        return False


def _why(status: Status) -> str:
    if status is Status.IDLE:
        minutes = max(1, settings.SESSION_IDLE_TIMEOUT // 60)
        return ngettext(
            "You were signed out after %(minutes)d minute without activity. Sign in again to "
            "continue.",
            "You were signed out after %(minutes)d minutes without activity. Sign in again to "
            "continue.",
            minutes,
        ) % {"minutes": minutes}
    if status is Status.ABSOLUTE:
        hours = max(1, settings.SESSION_MAX_AGE // 3600)
        return ngettext(
            "You were signed out because you signed in %(hours)d hour ago. Sign in again to "
            "continue.",
            "You were signed out because you signed in %(hours)d hours ago. Sign in again to "
            "continue.",
            hours,
        ) % {"hours": hours}
    return _("This browser was signed out from another browser. Sign in again to continue.")


class SessionLifetimeMiddleware:
    """After AuthenticationMiddleware and MessageMiddleware: every request of a signed-in
    session is checked before any view (or the campaign) acts on it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            status = service.check(request, user, now=clock.now(), activity=not _passive(request))
            if status is not Status.ACTIVE:
                if status is not Status.ENDED:
                    service.expired(request, user, status=status)
                # Flushes the session (a new key, no data) and makes this request anonymous:
                # the view answers as to someone signed out, a page asks to sign in again.
                logout(request)
                messages.info(request, _why(status))
        return self.get_response(request)
