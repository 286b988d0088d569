"""The pure decision behind the authorize endpoint, as a table."""

from __future__ import annotations

import datetime as dt

import pytest

from vahva.oidc.claims import (
    ACR_MFA,
    ACR_SFA,
    Ask,
    BadRequest,
    Session,
    Step,
    acr_for,
    next_step,
    parse_max_age,
    parse_prompt,
    wants_mfa,
)

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def ask(**overrides: object) -> Ask:
    base: dict[str, object] = {
        "prompt": frozenset(),
        "max_age": None,
        "mfa": False,
        "has_methods": True,
    }
    return Ask(**{**base, **overrides})  # type: ignore[arg-type]


def session(ago: dt.timedelta = MINUTE, mfa: bool = True) -> Session:
    return Session(at=NOW - ago, multi_factor=mfa)


@pytest.mark.parametrize(
    ("current", "request_", "step"),
    [
        (None, ask(), Step.SIGN_IN),
        (None, ask(prompt=frozenset({"none"})), Step.LOGIN_REQUIRED),
        (session(), ask(), Step.CONTINUE),
        (session(), ask(prompt=frozenset({"login"})), Step.SIGN_IN),
        # Signed in after vahva asked for this request: prompt=login is satisfied.
        (
            session(),
            ask(prompt=frozenset({"login"}), requested_at=(NOW - 2 * MINUTE).timestamp()),
            Step.CONTINUE,
        ),
        (session(10 * MINUTE), ask(max_age=300), Step.SIGN_IN),
        (session(10 * MINUTE), ask(max_age=3600), Step.CONTINUE),
        (session(mfa=False), ask(mfa=True), Step.SIGN_IN),
        (session(mfa=False), ask(mfa=True, prompt=frozenset({"none"})), Step.LOGIN_REQUIRED),
        (session(mfa=False), ask(mfa=True, has_methods=False), Step.NEED_METHOD),
        # Already sent to sign in twice for this request and still not enough: stop the loop.
        (
            session(mfa=False),
            ask(mfa=True, requested_at=(NOW - 2 * MINUTE).timestamp(), rounds=2),
            Step.REFUSE,
        ),
        (session(mfa=True), ask(mfa=True), Step.CONTINUE),
    ],
)
def test_next_step(current: Session | None, request_: Ask, step: Step) -> None:
    assert next_step(current, request_, now=NOW) is step


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
