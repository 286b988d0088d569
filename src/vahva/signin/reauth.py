"""Re-authentication: a signed-in person proves who they are again before a change (adding
or removing a method, a new password), with a second factor through the sign-in's own second
step, or the password for a person without methods."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest

from vahva import clock
from vahva.accounts.models import User
from vahva.audit.log import record
from vahva.conf import settings
from vahva.errors import ExpiredChallenge
from vahva.methods.models import RegisteredMethod

from .attempts import SESSION_ATTEMPT, SESSION_PHISHING_RESISTANT, binding, move
from .engine import check_password, check_second_factor
from .models import SignInAttempt
from .requirements import SESSION_AUTH, client_ip
from .states import Event, State

CONFIRM_REASON = "re-authentication with a second factor before a change"


def begin_confirmation(request: HttpRequest, *, next_url: str) -> SignInAttempt:
    """Ask the signed-in person for a second factor again (before changing their methods).

    The same attempt as a sign-in's second step, so every method works (a push with number
    matching, a text, a call, a code, a key) with the same throttle, single use and audit; on
    success :func:`verify` renews the session's proof and the person goes to ``next_url``.
    """
    user = request.user
    if not user.is_authenticated:
        raise ExpiredChallenge()
    now = clock.now()
    auth = request.session.get(SESSION_AUTH) or {}
    earlier = [str(value) for value in auth.get("amr") or ["pwd"]]
    attempt = SignInAttempt.objects.create(
        user=user,
        state=State.PASSWORD_OK,
        binding=binding(request),
        created_at=now,
        expires_at=now + dt.timedelta(seconds=settings.SIGNIN_ATTEMPT_TTL),
        ip=client_ip(request),
        next_url=next_url,
        amr=sorted(set(earlier) - {"mfa"}),
    )
    move(attempt, Event.REQUIRE_MFA, reason=CONFIRM_REASON)
    request.session[SESSION_ATTEMPT] = str(attempt.pk)
    request.session.pop(SESSION_PHISHING_RESISTANT, None)
    record(
        "signin.confirm",
        subject=user,
        actor=user,
        request=request,
        reason=CONFIRM_REASON,
        attempt=str(attempt.pk),
    )
    return attempt


def recently_authenticated(request: HttpRequest) -> bool:
    """Whether the person proved who they are within REAUTH_TTL seconds."""
    auth = request.session.get(SESSION_AUTH) or {}
    at = auth.get("at")
    return isinstance(at, int | float) and clock.now().timestamp() - at < settings.REAUTH_TTL


def confirm(
    request: HttpRequest,
    *,
    password: str = "",
    registered: RegisteredMethod | None = None,
    response: str = "",
) -> None:
    """Re-authenticate a signed-in person (before removing a method, ...)."""
    user = request.user
    if not isinstance(user, User):
        # Signed out in another tab meanwhile: nobody to confirm.
        raise ExpiredChallenge()
    now = clock.now()
    if registered is not None:
        check_second_factor(request, user, registered, response, action="signin.confirm")
        method = registered.kind
    else:
        check_password(request, str(getattr(user, "email", "")), password)
        method = "pwd"
    auth = dict(request.session.get(SESSION_AUTH) or {})
    auth["at"] = now.timestamp()
    request.session[SESSION_AUTH] = auth
    record("signin.confirm", subject=user, actor=user, request=request, method=method)
