"""What an authorization request asks of the sign-in, and what the ID token says of it.

Pure functions: no request, no ORM. ``amr`` values are RFC 8176's; ``acr`` values are the
REFEDS assurance profiles that research and education services already read, and "phr"
(OpenID Connect EAP ACR Values 1.0: phishing-resistant) for a security key or passkey.
"""

from __future__ import annotations

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
