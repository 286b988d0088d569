"""RequestedAuthnContext in, what the door must demand and which class to answer, out.

SAML Core §3.3.2.2.1: the service names authentication context classes and a comparison
(``exact``, the default, ``minimum``, ``better``, ``maximum``). vahva knows two strengths:
single-factor (REFEDS SFA, PasswordProtectedTransport...) and multi-factor (REFEDS MFA,
Microsoft's multipleauthn). A request that no sign-in of vahva's can meet is answered with
the status NoAuthnContext, never silently with something weaker (REFEDS MFA profile §4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Comparison(StrEnum):
    EXACT = "exact"
    MINIMUM = "minimum"
    BETTER = "better"
    MAXIMUM = "maximum"


class Strength(IntEnum):
    SINGLE = 1
    MULTI = 2


REFEDS_MFA = "https://refeds.org/profile/mfa"
REFEDS_SFA = "https://refeds.org/profile/sfa"
MS_MULTIPLE_AUTHN = "http://schemas.microsoft.com/claims/multipleauthn"
PASSWORD_PROTECTED = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"  # noqa: S105
PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"  # noqa: S105
UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"

#: The classes vahva can assert, and how strong a sign-in each needs.
KNOWN: dict[str, Strength] = {
    REFEDS_MFA: Strength.MULTI,
    MS_MULTIPLE_AUTHN: Strength.MULTI,
    REFEDS_SFA: Strength.SINGLE,
    PASSWORD_PROTECTED: Strength.SINGLE,
    PASSWORD: Strength.SINGLE,
    UNSPECIFIED: Strength.SINGLE,
}


class NoAuthnContext(ValueError):
    """The requested context cannot be met by any sign-in vahva can do."""


@dataclass(frozen=True)
class Asked:
    """What the service asked: whether the sign-in must be multi-factor, and how to pick the
    class to answer once it is done."""

    mfa: bool
    comparison: Comparison | None
    classes: tuple[str, ...]


def parse(classes: Sequence[str], comparison: str | None) -> Asked:
    """The door's ``mfa`` for a RequestedAuthnContext; NoAuthnContext when it cannot be met."""
    if not classes:
        return Asked(mfa=False, comparison=None, classes=())
    try:
        how = Comparison(comparison or Comparison.EXACT)
    except ValueError:
        raise NoAuthnContext(f"unknown comparison {comparison!r}") from None
    known = tuple(ref for ref in classes if ref in KNOWN)
    if not known:
        raise NoAuthnContext("none of the requested classes is one vahva can assert")
    strengths = [KNOWN[ref] for ref in known]
    if how == Comparison.EXACT:
        # Each listed class is acceptable; MFA is needed only when no single-factor one is.
        mfa = min(strengths) == Strength.MULTI
    elif how == Comparison.MINIMUM:
        mfa = min(strengths) == Strength.MULTI
    elif how == Comparison.BETTER:
        if min(strengths) == Strength.MULTI:
            raise NoAuthnContext("nothing is stronger than multi-factor here")
        mfa = True
    else:  # MAXIMUM: anything up to the strongest listed; a sign-in is at least single.
        mfa = False
    return Asked(mfa=mfa, comparison=how, classes=known)


def answer(asked: Asked, *, multi_factor: bool, native: tuple[str, str]) -> str:
    """The AuthnContextClassRef to assert for a sign-in that was (or was not) multi-factor.

    ``native`` is the profile's own (single-factor, multi-factor) pair, used when the service
    asked for nothing in particular. It never claims more than was done.
    """
    done = Strength.MULTI if multi_factor else Strength.SINGLE
    if asked.comparison is None:
        return native[1] if multi_factor else native[0]
    met = [ref for ref in asked.classes if KNOWN[ref] <= done]
    if asked.comparison in (Comparison.EXACT, Comparison.MAXIMUM):
        if not met:
            raise NoAuthnContext("the sign-in does not meet any requested class")
        # The strongest acceptable class that the sign-in really meets.
        return max(met, key=lambda ref: KNOWN[ref])
    # MINIMUM / BETTER: our own class for what was done, if it is strong enough.
    floor = min(KNOWN[ref] for ref in asked.classes)
    if done < floor or (asked.comparison == Comparison.BETTER and done <= floor):
        raise NoAuthnContext("the sign-in is weaker than requested")
    return native[1] if multi_factor else native[0]
