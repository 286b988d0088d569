"""The door's pure core: whether a sign-in satisfies what a service asks, as a table."""

from __future__ import annotations

import datetime as dt

import pytest

from vahva.signin.door import Ask, Authentication, Outcome, next_step

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def ask(**overrides: object) -> Ask:
    base: dict[str, object] = {
        "max_age": None,
        "mfa": False,
        "has_methods": True,
    }
    return Ask(**{**base, **overrides})  # type: ignore[arg-type]


def session(ago: dt.timedelta = MINUTE, mfa: bool = True) -> Authentication:
    amr = ("mfa", "otp", "pwd") if mfa else ("pwd",)
    return Authentication(at=NOW - ago, amr=amr, method="totp")


KEY = Authentication(at=NOW, amr=("hwk", "mfa", "pwd", "user"), method="webauthn")
CODE = Authentication(at=NOW, amr=("mfa", "otp", "pwd"), method="totp")


@pytest.mark.parametrize(
    ("current", "request_", "step"),
    [
        (None, ask(), Outcome.SIGN_IN),
        (None, ask(passive=True), Outcome.LOGIN_REQUIRED),
        (session(), ask(), Outcome.ISSUE),
        (session(), ask(fresh=True), Outcome.SIGN_IN),
        # Signed in after vahva asked for this request: prompt=login is satisfied.
        (
            session(),
            ask(fresh=True, requested_at=(NOW - 2 * MINUTE).timestamp()),
            Outcome.ISSUE,
        ),
        (session(10 * MINUTE), ask(max_age=300), Outcome.SIGN_IN),
        (session(10 * MINUTE), ask(max_age=3600), Outcome.ISSUE),
        (session(mfa=False), ask(mfa=True), Outcome.SIGN_IN),
        (session(mfa=False), ask(mfa=True, passive=True), Outcome.LOGIN_REQUIRED),
        (session(mfa=False), ask(mfa=True, has_methods=False), Outcome.NEED_METHOD),
        # Already sent to sign in twice for this request and still not enough: stop the loop.
        (
            session(mfa=False),
            ask(mfa=True, requested_at=(NOW - 2 * MINUTE).timestamp(), rounds=2),
            Outcome.REFUSE,
        ),
        (session(mfa=True), ask(mfa=True), Outcome.ISSUE),
    ],
)
def test_next_step(current: Authentication | None, request_: Ask, step: Outcome) -> None:
    assert next_step(current, request_, now=NOW) is step


@pytest.mark.parametrize(
    ("session", "has_key", "step"),
    [
        (
            Authentication(at=NOW, amr=("hwk", "mfa", "pwd", "user"), method="webauthn"),
            True,
            Outcome.ISSUE,
        ),
        # A code was the second factor: sign in again, with the key.
        (CODE, True, Outcome.SIGN_IN),
        (Authentication(at=NOW, amr=("pwd",)), True, Outcome.SIGN_IN),
        # No key to sign in with: say so instead of a loop.
        (
            Authentication(at=NOW, amr=("mfa", "otp", "pwd"), method="totp"),
            False,
            Outcome.NEED_PASSKEY,
        ),
        (None, False, Outcome.SIGN_IN),
    ],
)
def test_next_step_for_a_phishing_resistant_service(
    session: Authentication | None, has_key: bool, step: Outcome
) -> None:
    ask = Ask(
        mfa=True,
        has_methods=True,
        phishing_resistant=True,
        has_phishing_resistant=has_key,
    )
    assert next_step(session, ask, now=NOW) == step


@pytest.mark.parametrize("passive", [False, True])
def test_a_person_who_must_register_gets_nothing_before_registering(passive: bool) -> None:
    # Not following the wizard's redirect does not skip it: the door itself sends them there.
    outcome = next_step(session(), ask(must_register=True, passive=passive), now=NOW)
    assert outcome == (Outcome.INTERACTION_REQUIRED if passive else Outcome.REGISTER)
