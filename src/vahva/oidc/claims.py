"""What an authorization request asks of the sign-in, and what the ID token says of it.

Pure functions: no request, no ORM. ``amr`` values are RFC 8176's; ``acr`` values are the
REFEDS assurance profiles that research and education services already read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

#: REFEDS MFA Profile: the person used two independent factors.
ACR_MFA = "https://refeds.org/profile/mfa"
#: REFEDS SFA Profile: one factor (the password).
ACR_SFA = "https://refeds.org/profile/sfa"
#: Short names a service may put in ``acr_values``.
ACR_ALIASES = {"mfa": ACR_MFA, ACR_MFA: ACR_MFA, "sfa": ACR_SFA, ACR_SFA: ACR_SFA}


class BadRequest(ValueError):
    """An authorization parameter is malformed (OAuth ``invalid_request``)."""


def acr_for(amr: tuple[str, ...] | list[str]) -> str:
    return ACR_MFA if "mfa" in amr else ACR_SFA


def wants_mfa(acr_values: str) -> bool:
    """Whether ``acr_values`` (space-separated, in order of preference) asks for MFA.

    A service that lists SFA as acceptable gets at least SFA; only a list made of MFA values
    forces a second factor. Unknown values are ignored (OIDC Core §3.1.2.1: voluntary).
    """
    known = [ACR_ALIASES[value] for value in acr_values.split() if value in ACR_ALIASES]
    return bool(known) and all(value == ACR_MFA for value in known)


def parse_max_age(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 10:
        raise BadRequest("max_age must be a whole number of seconds")
    return int(raw)


def parse_prompt(raw: str | None) -> frozenset[str]:
    values = frozenset((raw or "").split())
    unknown = values - {"none", "login", "consent", "select_account"}
    if unknown:
        raise BadRequest(f"prompt value {sorted(unknown)[0]!r} is not supported")
    if "none" in values and len(values) > 1:
        # OIDC Core §3.1.2.1: none with any other value is an error.
        raise BadRequest("prompt=none cannot be combined with other values")
    return values


class Step(StrEnum):
    CONTINUE = "continue"  # the session satisfies the request: issue the code
    SIGN_IN = "sign_in"  # send the person to sign in (again)
    LOGIN_REQUIRED = "login_required"  # prompt=none, but a sign-in is needed
    NEED_METHOD = "need_method"  # MFA required and the person has no method to do it with
    REFUSE = "refuse"  # signed in for this request and it is still not enough: no loop


@dataclass(frozen=True, kw_only=True)
class Session:
    """The sign-in this browser already has (None fields: not signed in)."""

    at: dt.datetime
    multi_factor: bool


@dataclass(frozen=True, kw_only=True)
class Ask:
    prompt: frozenset[str]
    max_age: int | None
    mfa: bool  # acr_values or the service's policy ask for a second factor
    has_methods: bool
    #: When vahva last sent the person to sign in for this very request (epoch s), and how
    #: many times in a row; None when it has not.
    requested_at: float | None = None
    rounds: int = 0


def next_step(session: Session | None, ask: Ask, *, now: dt.datetime) -> Step:
    """Decide whether the session satisfies the request or the person must sign in."""
    if session is None:
        return Step.LOGIN_REQUIRED if "none" in ask.prompt else Step.SIGN_IN
    signed_in_for_this = ask.requested_at is not None and session.at.timestamp() >= ask.requested_at
    too_old = ask.max_age is not None and (now - session.at).total_seconds() > ask.max_age
    stale = ("login" in ask.prompt or too_old) and not signed_in_for_this
    missing_mfa = ask.mfa and not session.multi_factor
    if not stale and not missing_mfa:
        return Step.CONTINUE
    if "none" in ask.prompt:
        return Step.LOGIN_REQUIRED
    if missing_mfa and not ask.has_methods:
        return Step.NEED_METHOD
    if signed_in_for_this and ask.rounds >= 2:
        return Step.REFUSE
    return Step.SIGN_IN
