"""Passwordless sign-in with a passkey (VAHVA["PASSKEY_SIGNIN"]): the passkey names the
person, and having it and unlocking it are the two factors. Part of the engine, in a file of
its own."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import logout
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from vahva import clock
from vahva.audit.log import record
from vahva.conf import settings
from vahva.errors import InvalidCode, ReplayedCode, VahvaError
from vahva.methods import registry
from vahva.methods.base import Method

from . import throttle
from .attempts import binding, move, rule
from .engine import _signed_in, failure_reason
from .models import SignInAttempt
from .requirements import Requirement, client_ip
from .states import Event, State


class PasskeyRefused(VahvaError):
    status = 403
    default_message = _("This account cannot sign in. Contact the helpdesk.")


class NotAvailable(VahvaError):
    status = 404
    default_message = _("Sign in with your password.")


def _method() -> Method:
    """The method that signs in without a password (a passkey), or NotAvailable."""
    found = registry.passwordless()
    if found is None:
        raise NotAvailable()
    return found


def offered() -> str:
    """The password page's part that offers a passwordless sign-in; "" when none is on."""
    found = registry.passwordless()
    return found.passwordless_template if found is not None else ""


def available() -> bool:
    return registry.passwordless() is not None


def passkey_options(request: HttpRequest) -> dict[str, Any]:
    """Options for "Sign in with a passkey", bound to this browser's session."""
    return _method().passwordless_options(scope=binding(request), now=clock.now())


def passkey_sign_in(
    request: HttpRequest,
    response: str,
    *,
    next_url: str = "",
    requirement: Requirement | None = None,
) -> SignInAttempt:
    """Sign in with a passkey and no password: the passkey names the person, and having it
    and unlocking it (user verification, required) are two factors (NIST SP 800-63B
    §5.1.9: a multi-factor cryptographic authenticator). Throttled and audited like codes."""
    now = clock.now()
    method = _method()
    keys = [(f"mfa:ip:{client_ip(request)}", rule("THROTTLE_MFA_IP"))]
    # Reserve first: a burst of parallel forged assertions is counted before any is checked.
    reservation = throttle.reserve(keys, now=now)
    try:
        used = method.verify_passwordless(response, scope=binding(request), now=now)
    except (InvalidCode, ReplayedCode) as exc:
        owner = getattr(exc, "subject", None)
        record(
            "signin.passkey",
            subject=owner,
            request=request,
            outcome="failure",
            reason=failure_reason(exc),
            method=method.kind,
        )
        raise
    except BaseException:
        # Not a guess (an answer that is not WebAuthn JSON at all): the try is given back.
        reservation.refund()
        raise
    reservation.refund()
    user = used.registered.user
    if not user.is_active:
        record(
            "signin.passkey",
            subject=user,
            request=request,
            outcome="failure",
            reason="account disabled",
            method=method.kind,
        )
        raise PasskeyRefused()
    if request.user.is_authenticated and request.user.pk != user.pk:
        # As with a password: the other person's session ends first (a shared computer).
        logout(request)
    reason = "passkey sign-in: possession and user verification, multi-factor on its own"
    attempt = SignInAttempt.objects.create(
        user=user,
        state=State.MFA_REQUIRED,
        binding=binding(request),
        created_at=now,
        expires_at=now + dt.timedelta(seconds=settings.SIGNIN_ATTEMPT_TTL),
        ip=client_ip(request),
        next_url=next_url,
        amr=[],
        reason=reason,
    )
    record(
        "signin.passkey",
        subject=user,
        actor=user,
        request=request,
        reason=reason,
        service=requirement.service if requirement else "",
        attempt=str(attempt.pk),
    )
    # No "pwd": no password was typed. "mfa" because the passkey verified the person.
    amr = sorted({*used.amr, "mfa"} if "user" in used.amr else set(used.amr))
    move(attempt, Event.PASS_MFA, completed_at=now, method=method.kind, amr=amr)
    _signed_in(request, attempt, method=method.kind)
    return attempt
