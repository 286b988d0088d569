"""What an authorization request asks of the sign-in, and what the ID token says of it.

Pure functions: no request, no ORM. ``amr`` values are RFC 8176's; ``acr`` values are the
REFEDS assurance profiles that research and education services already read, and "phr"
(OpenID Connect EAP ACR Values 1.0: phishing-resistant) for a security key or passkey.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

#: REFEDS MFA Profile: the person used two independent factors.
ACR_MFA = "https://refeds.org/profile/mfa"
#: REFEDS SFA Profile: one factor (the password).
ACR_SFA = "https://refeds.org/profile/sfa"
#: OpenID Connect EAP ACR Values 1.0 §2: phishing-resistant (a party that controls where the
#: browser goes cannot learn enough to sign in as the person): WebAuthn.
ACR_PHR = "phr"
#: Short names a service may put in ``acr_values``.
ACR_ALIASES = {
    "mfa": ACR_MFA,
    ACR_MFA: ACR_MFA,
    "sfa": ACR_SFA,
    ACR_SFA: ACR_SFA,
    ACR_PHR: ACR_PHR,
}


class BadRequest(ValueError):
    """An authorization parameter is malformed (OAuth ``invalid_request``)."""


def _known(acr_values: str) -> list[str]:
    return [ACR_ALIASES[value] for value in acr_values.split() if value in ACR_ALIASES]


def acr_for(
    amr: tuple[str, ...] | list[str], *, phishing_resistant: bool = False, requested: str = ""
) -> str:
    """The ``acr`` of a sign-in: the first of the ``requested`` values it achieved (OIDC Core
    §5.5.1.1), else REFEDS MFA or SFA."""
    achieved = {ACR_SFA}
    if "mfa" in amr:
        achieved.add(ACR_MFA)
        if phishing_resistant:
            achieved.add(ACR_PHR)
    for value in _known(requested):
        if value in achieved:
            return value
    return ACR_MFA if "mfa" in amr else ACR_SFA


def wants_mfa(acr_values: str) -> bool:
    """Whether ``acr_values`` (space-separated, in order of preference) asks for MFA.

    A service that lists SFA as acceptable gets at least SFA; only a list made of MFA values
    (phishing-resistant included) forces a second factor. Unknown values are ignored (OIDC
    Core §3.1.2.1: voluntary).
    """
    known = _known(acr_values)
    return bool(known) and all(value in (ACR_MFA, ACR_PHR) for value in known)


def wants_phishing_resistant(acr_values: str) -> bool:
    """Whether ``acr_values`` accepts nothing but a phishing-resistant sign-in ("phr")."""
    known = _known(acr_values)
    return bool(known) and all(value == ACR_PHR for value in known)


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
    NEED_PASSKEY = "need_passkey"  # phishing-resistant required and the person has no such method
    REFUSE = "refuse"  # signed in for this request and it is still not enough: no loop


@dataclass(frozen=True, kw_only=True)
class Session:
    """The sign-in this browser already has (None fields: not signed in)."""

    at: dt.datetime
    multi_factor: bool
    #: Signed in with a security key or passkey (WebAuthn).
    phishing_resistant: bool = False


@dataclass(frozen=True, kw_only=True)
class Ask:
    prompt: frozenset[str]
    max_age: int | None
    mfa: bool  # acr_values or the service's policy ask for a second factor
    has_methods: bool
    #: acr_values or the service's rule accept only a phishing-resistant sign-in, and whether
    #: the person has a method that is one.
    phishing_resistant: bool = False
    has_phishing_resistant: bool = False
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
    # A second factor that a look-alike site could have relayed (a code, a push) is not
    # enough where the service demands a phishing-resistant one; nor is a password alone.
    missing_phr = ask.phishing_resistant and not (
        session.multi_factor and session.phishing_resistant
    )
    if not stale and not missing_mfa and not missing_phr:
        return Step.CONTINUE
    if "none" in ask.prompt:
        return Step.LOGIN_REQUIRED
    if missing_mfa and not ask.has_methods:
        return Step.NEED_METHOD
    if missing_phr and not ask.has_phishing_resistant:
        return Step.NEED_PASSKEY
    if signed_in_for_this and ask.rounds >= 2:
        return Step.REFUSE
    return Step.SIGN_IN
