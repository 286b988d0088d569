"""A sign-in attempt's moving parts, shared by the engine and the protocols' paths: its
session keys, the throttle's keys, the browser binding and the guarded state move."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from vahva.accounts.models import normalise_email
from vahva.conf import settings
from vahva.errors import AlreadyCompleted, VahvaError
from vahva.policy import Decision

from . import known_browser, throttle
from .models import SignInAttempt
from .requirements import client_ip
from .states import Event, State, next_state

SESSION_ATTEMPT = "vahva_attempt"
SESSION_BINDING = "vahva_binding"
#: The attempt (by id) whose service accepts only phishing-resistant methods (WebAuthn).
SESSION_PHISHING_RESISTANT = "vahva_phishing_resistant"


class InvalidCredentials(VahvaError):
    status = 400
    # One message for unknown address and wrong password: no account enumeration.
    default_message = _("The e-mail address or the password is not right.")


class NotPhishingResistant(VahvaError):
    """The service accepts only a security key or passkey, and this is not one."""

    status = 403
    reason = "not phishing-resistant: the service accepts only a security key or passkey"
    default_message = _(
        "This service accepts only a security key or passkey. Use one of yours to continue."
    )


@dataclass(frozen=True)
class PasswordResult:
    attempt: SignInAttempt
    decision: Decision

    @property
    def second_step(self) -> bool:
        """Whether the person is asked for a second factor now (a service may demand one of a
        person without methods: then they are signed in, and the door says what to do)."""
        return self.attempt.state == State.MFA_REQUIRED


def rule(name: str) -> throttle.Rule:
    return throttle.Rule.from_setting(getattr(settings, name))


def password_keys(
    request: HttpRequest, email: str, user_pk: object | None
) -> list[tuple[str, throttle.Rule]]:
    """The client address's key, then the account's: the browser's own key when it has signed
    in to the account before, else one for the normalised ``email``."""
    keys = [(f"pw:ip:{client_ip(request)}", rule("THROTTLE_PASSWORD_IP"))]
    own = known_browser.key_for(request, user_pk) if user_pk is not None else None
    # Account enumeration: the address, not the account, is what is counted, so an unknown
    # address is slowed down exactly like an existing one (the same 400s, then the same 429).
    address = throttle.hashed(normalise_email(email))
    keys.append((own or f"pw:acct:{address}", rule("THROTTLE_PASSWORD_ACCOUNT")))
    return keys


def mfa_keys(request: HttpRequest, user_pk: object) -> list[tuple[str, throttle.Rule]]:
    """The client address's key, then the account's (the one the helpdesk reads and clears)."""
    return [
        (f"mfa:ip:{client_ip(request)}", rule("THROTTLE_MFA_IP")),
        (f"mfa:acct:{user_pk}", rule("THROTTLE_MFA_ACCOUNT")),
    ]


def binding(request: HttpRequest) -> str:
    token = request.session.get(SESSION_BINDING)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_BINDING] = token
    return hashlib.sha256(str(token).encode()).hexdigest()


def move(attempt: SignInAttempt, event: Event, **fields: Any) -> None:
    """Apply ``event`` with a conditional UPDATE on the current state.

    Two tabs finishing the same attempt: only the first UPDATE matches; the other raises
    AlreadyCompleted instead of signing in twice.
    """
    target = next_state(State(attempt.state), event)
    moved = SignInAttempt.objects.filter(pk=attempt.pk, state=attempt.state).update(
        state=target, **fields
    )
    if not moved:
        raise AlreadyCompleted()
    attempt.state = target
    for name, value in fields.items():
        setattr(attempt, name, value)
