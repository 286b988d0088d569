"""What an authorization request asks (prompt, max_age, acr_values) and the acr it gets.

The decision itself is the door's: tests/signin/test_requirements.py."""

from __future__ import annotations

import pytest

from vahva.oidc.claims import (
    ACR_MFA,
    ACR_SFA,
    BadRequest,
    acr_for,
    parse_max_age,
    parse_prompt,
    wants_mfa,
)


@pytest.mark.parametrize(
    ("values", "mfa"),
    [
        ("", False),
        (ACR_MFA, True),
        ("mfa", True),
        (f"{ACR_MFA} {ACR_SFA}", False),  # SFA is acceptable too
        ("urn:unknown", False),
        (f"urn:unknown {ACR_MFA}", True),
    ],
)
def test_wants_mfa(values: str, mfa: bool) -> None:
    assert wants_mfa(values) is mfa


def test_acr_for() -> None:
    assert acr_for(("pwd",)) == ACR_SFA
    assert acr_for(("pwd", "otp", "mfa")) == ACR_MFA


@pytest.mark.parametrize("raw", ["x", "-1", "1.5", "9" * 11, " 5"])
def test_bad_max_age(raw: str) -> None:
    with pytest.raises(BadRequest):
        parse_max_age(raw)


def test_prompt() -> None:
    assert parse_prompt("login consent") == {"login", "consent"}
    assert parse_prompt(None) == frozenset()
    with pytest.raises(BadRequest):
        parse_prompt("none login")
    with pytest.raises(BadRequest):
        parse_prompt("bogus")
