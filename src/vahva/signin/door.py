"""The door's vocabulary and its pure core: what a service asks (:class:`Requirement`), how a
person proved who they are (:class:`Authentication`), who asks (:class:`Presence`), and the
answer (:class:`Step`); :func:`next_step` decides from plain values (no request, no ORM) and is
tested as a table. :mod:`vahva.signin.requirements` asks the policy and the session, and is
what the protocols call.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from vahva.methods import registry
from vahva.policy.decide import ServiceRule

if TYPE_CHECKING:
    from vahva.accounts.models import User


@dataclass(frozen=True, kw_only=True)
class Requirement:
    """What a service asks of the person's sign-in; the protocol fills it from its request.

    It also lives in the session while the person signs in (with ``at`` and ``round``), tied
    to the URL they return to, so the password page knows which service it signs in to.
    """

    #: The service's name, for pages and the sign-in log ("" for vahva itself).
    service: str = ""
    #: The service's own MFA rule.
    rule: ServiceRule = ServiceRule.OUTSIDE_TRUSTED
    #: Where the person comes back to after signing in (the protocol endpoint, with its query).
    next_url: str = ""
    #: The service's own address the assertion goes to (an OIDC redirect URI, a SAML ACS).
    return_to: str = ""
    #: The service asked for a second factor (acr_values, RequestedAuthnContext).
    mfa: bool = False
    #: The service accepts only a security key or passkey (acr_values=phr, its rule).
    phishing_resistant: bool = False
    #: The sign-in may be at most this many seconds old (OIDC max_age).
    max_age: int | None = None
    #: Sign in again even when signed in (prompt=login, ForceAuthn).
    fresh: bool = False
    #: Never show a page: answer at once (prompt=none, IsPassive).
    passive: bool = False

    @property
    def demands_phishing_resistant(self) -> bool:
        return self.phishing_resistant or self.rule == ServiceRule.PHISHING_RESISTANT


@dataclass(frozen=True)
class Authentication:
    """How the person in this session (or RADIUS exchange, or grant) proved who they are."""

    at: dt.datetime
    amr: tuple[str, ...]
    method: str = ""
    #: Whether it was phishing-resistant, when known without the method (a token's acr).
    known_phishing_resistant: bool | None = None

    @property
    def multi_factor(self) -> bool:
        return "mfa" in self.amr

    @property
    def phishing_resistant(self) -> bool:
        """Signed in with a method a look-alike site cannot relay (a security key, a passkey)."""
        if self.known_phishing_resistant is not None:
            return self.known_phishing_resistant
        try:
            return bool(self.method) and registry.get(self.method).phishing_resistant
        except KeyError:
            return False


@dataclass(frozen=True, kw_only=True)
class Presence:
    """Who asks and how they proved it: built from a browser session (:func:`presence_of`),
    or by a protocol without one (RADIUS, the token endpoint)."""

    user: User | None
    authentication: Authentication | None
    ip: str | None
    #: This browser is remembered for the person until then ("Don't ask again"), or None.
    remembered_until: dt.datetime | None = None
    #: When vahva last sent the person to sign in for this very request (epoch s), and how
    #: many times in a row; None when it has not.
    requested_at: float | None = None
    rounds: int = 0
    #: The trusted network the person is in, when the caller knows it better than the address
    #: does (a renewal keeps the network decided at sign-in: :func:`renewal_step`).
    network: str | None = None


class Outcome(StrEnum):
    ISSUE = "issue"  # the sign-in satisfies the request: issue the assertion
    SIGN_IN = "sign_in"  # send the person to sign in (again, or with a second factor)
    REGISTER = "register"  # the person must register a method before anything else
    LOGIN_REQUIRED = "login_required"  # passive, but the person must sign in
    INTERACTION_REQUIRED = "interaction_required"  # passive, but a page must be shown
    NEED_METHOD = "need_method"  # a second factor is required and the person has none
    NEED_PASSKEY = "need_passkey"  # phishing-resistant required and the person has no key
    REFUSE = "refuse"  # signed in for this request and it is still not enough: no loop


@dataclass(frozen=True)
class Step:
    """The door's answer. ``url``: where to send the browser (SIGN_IN, REGISTER, NEED_*);
    ``message``: what to tell the person when the request cannot continue; for ISSUE, how the
    person proved who they are."""

    outcome: Outcome
    url: str = ""
    message: str = ""
    authentication: Authentication | None = None
    #: The policy's reason, for the sign-in log.
    reason: str = ""

    @property
    def issue(self) -> bool:
        return self.outcome == Outcome.ISSUE


# --- the pure core ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Ask:
    """What the request and the policy ask, in plain values (for :func:`next_step`)."""

    fresh: bool = False
    passive: bool = False
    max_age: int | None = None
    mfa: bool = False
    has_methods: bool = False
    phishing_resistant: bool = False
    has_phishing_resistant: bool = False
    must_register: bool = False
    requested_at: float | None = None
    rounds: int = 0


def next_step(signed_in: Authentication | None, ask: Ask, *, now: dt.datetime) -> Outcome:
    """Decide whether the sign-in satisfies the request, or what the person must do first."""
    if signed_in is None:
        return Outcome.LOGIN_REQUIRED if ask.passive else Outcome.SIGN_IN
    if ask.must_register:
        # Before anything else: not following the wizard's redirect does not skip it.
        return Outcome.INTERACTION_REQUIRED if ask.passive else Outcome.REGISTER
    signed_in_for_this = ask.requested_at is not None and signed_in.at.timestamp() >= (
        ask.requested_at
    )
    too_old = ask.max_age is not None and (now - signed_in.at).total_seconds() > ask.max_age
    stale = (ask.fresh or too_old) and not signed_in_for_this
    missing_mfa = ask.mfa and not signed_in.multi_factor
    # A second factor that a look-alike site could have relayed (a code, a push) is not
    # enough where the service demands a phishing-resistant one; nor is a password alone.
    missing_phr = ask.phishing_resistant and not (
        signed_in.multi_factor and signed_in.phishing_resistant
    )
    if not stale and not missing_mfa and not missing_phr:
        return Outcome.ISSUE
    if ask.passive:
        return Outcome.LOGIN_REQUIRED
    if missing_mfa and not ask.has_methods:
        return Outcome.NEED_METHOD
    if missing_phr and not ask.has_phishing_resistant:
        return Outcome.NEED_PASSKEY
    if signed_in_for_this and ask.rounds >= 2:
        return Outcome.REFUSE
    return Outcome.SIGN_IN
