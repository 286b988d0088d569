"""Every reason the sign-in log can hold reads as a sentence (marked for translation)."""

from __future__ import annotations

import pytest

from vahva.audit.sentences import _LABELS, SIGNIN_ACTIONS, describe, explain
from vahva.errors import ExpiredChallenge, InvalidCode, ReplayedCode, VahvaError
from vahva.methods import webauthn_checks


def _subclasses(base: type) -> list[type]:
    found = []
    for sub in base.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


#: What ``failure_reason`` writes for a refused code: the error's own reason, else its name.
REFUSALS = sorted(
    {
        str(getattr(cls, "reason", "") or cls.__name__)
        for base in (InvalidCode, ReplayedCode, ExpiredChallenge)
        for cls in (base, *_subclasses(base))
    }
)


@pytest.mark.parametrize("reason", REFUSALS)
def test_every_refused_code_is_a_sentence_not_an_error_name(reason: str) -> None:
    sentence = explain(reason)
    assert sentence != reason
    assert sentence.endswith(".")
    assert not any(name in sentence for name in ("Invalid", "Replayed", "Expired", "Error"))


def test_the_passkey_checks_reasons_are_all_known() -> None:
    checks = [cls for cls in vars(webauthn_checks).values() if isinstance(cls, type)]
    reasons = {
        str(cls.reason) for cls in checks if issubclass(cls, VahvaError) and "reason" in vars(cls)
    }
    assert len(reasons) >= 7
    assert all(explain(reason) != reason for reason in reasons)


@pytest.mark.parametrize(
    ("action", "outcome", "reason", "label", "why"),
    [
        (
            "push.denied",
            "failure",
            "the person denied the request",
            "Denied in the app",
            "The person tapped Deny on the sign-in request. Device: Pixel.",
        ),
        (
            "push.reported",
            "failure",
            "the person said the sign-in request was not theirs",
            "Reported as not theirs",
            "The person said the request was not theirs (Deny and report): someone else "
            "probably knows the password. Device: Pixel.",
        ),
        (
            "signin.locked",
            "failure",
            "5 consecutive wrong codes",
            "Locked after wrong codes",
            "5 wrong codes in a row: locked until the helpdesk clears the wrong codes.",
        ),
        (
            "phone.reported",
            "failure",
            "0# pressed: the call was not expected",
            "Call reported as not theirs",
            "The person pressed 0# on a sign-in call: they did not expect it. Someone else "
            "probably knows the password.",
        ),
        (
            "signin.password",
            "ok",
            "MFA skipped: exempted until 2026-03-02 13:00 UTC (ticket HD-1)",
            "Password accepted",
            "No second step: the helpdesk exempted the person until 2026-03-02 13:00 UTC "
            "(ticket HD-1).",
        ),
        (
            "signin.mfa",
            "failure",
            "ReplayedCode",
            "Second step failed",
            "The code had been used already: each code works only once.",
        ),
        # A reason nobody mapped is shown as recorded, never hidden.
        ("signin.mfa", "failure", "something new", "Second step failed", "something new"),
    ],
)
def test_describe(action: str, outcome: str, reason: str, label: str, why: str) -> None:
    words = describe(action=action, outcome=outcome, reason=reason, data={"device_name": "Pixel"})
    assert (words.label, words.why) == (label, why)


def test_every_action_has_a_label_for_what_it_records() -> None:
    assert {action for action, _outcome in _LABELS} == set(SIGNIN_ACTIONS)
