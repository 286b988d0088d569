"""signin.nonbrowser: the sign-in for protocols without a browser, tested without a network."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from tests.conftest import totp_code
from vahva.errors import AlreadyCompleted, ExpiredChallenge, InvalidCode
from vahva.signin import nonbrowser
from vahva.signin.attempts import InvalidCredentials
from vahva.signin.models import SignInAttempt
from vahva.signin.requirements import Outcome, Requirement, ServiceRule

pytestmark = pytest.mark.django_db

ALWAYS = Requirement(service="VPN", rule=ServiceRule.ALWAYS)
CHANNEL = "radius:1"


def start(user: Any, requirement: Requirement = ALWAYS, ip: str | None = "192.0.2.7") -> Any:
    return nonbrowser.start(
        user, requirement=requirement, ip=ip, source=ip, channel=CHANNEL, action="test.mfa"
    )


def test_password_is_the_engines(alice: Any) -> None:
    assert (
        nonbrowser.check_password(
            email="Alice@Example.org", password="correct horse battery", source="192.0.2.7"
        )
        == alice
    )
    with pytest.raises(InvalidCredentials):
        nonbrowser.check_password(email=alice.email, password="nope", source="192.0.2.7")


def test_the_door_issues_for_a_password_alone_where_the_rule_allows(alice_totp: Any) -> None:
    method, _secret = alice_totp
    result = start(method.user, Requirement(service="VPN", rule=ServiceRule.NEVER))
    assert result.issue
    assert result.step.authentication is not None
    assert result.step.authentication.amr == ("pwd",)
    assert not SignInAttempt.objects.exists()


def test_code_challenge_then_the_door_again(alice_totp: Any, clock: Any) -> None:
    method, secret = alice_totp
    result = start(method.user)
    assert result.step.outcome == Outcome.SIGN_IN
    challenge = result.challenge
    assert challenge is not None
    assert not challenge.waits
    assert challenge.message == "Enter the code from your authenticator app"
    attempt = nonbrowser.resume(
        attempt_id=challenge.attempt, token=challenge.token, channel=CHANNEL
    )
    done = nonbrowser.answer_code(
        attempt,
        totp_code(secret, clock()),
        requirement=ALWAYS,
        ip="192.0.2.7",
        source="192.0.2.7",
        action="test.mfa",
    )
    assert done.issue
    assert done.step.authentication is not None
    assert done.step.authentication.amr == ("mfa", "otp", "pwd")
    attempt.refresh_from_db()
    assert attempt.state == "done"
    # Finished: the State resumes nothing any more.
    with pytest.raises(AlreadyCompleted):
        nonbrowser.resume(attempt_id=challenge.attempt, token=challenge.token, channel=CHANNEL)


def test_a_wrong_code_ends_the_attempt(alice_totp: Any) -> None:
    method, _secret = alice_totp
    challenge = start(method.user).challenge
    assert challenge is not None
    attempt = nonbrowser.resume(
        attempt_id=challenge.attempt, token=challenge.token, channel=CHANNEL
    )
    with pytest.raises(InvalidCode):
        nonbrowser.answer_code(
            attempt, "000000", requirement=ALWAYS, ip=None, source="192.0.2.7", action="test.mfa"
        )
    with pytest.raises(ExpiredChallenge):
        nonbrowser.resume(attempt_id=challenge.attempt, token=challenge.token, channel=CHANNEL)


@pytest.mark.parametrize("change", ["token", "channel"])
def test_a_state_resumes_only_with_its_token_and_channel(alice_totp: Any, change: str) -> None:
    method, _secret = alice_totp
    challenge = start(method.user).challenge
    assert challenge is not None
    token = challenge.token + "x" if change == "token" else challenge.token
    channel = "radius:2" if change == "channel" else CHANNEL
    with pytest.raises(ExpiredChallenge):
        nonbrowser.resume(attempt_id=challenge.attempt, token=token, channel=channel)


def test_an_attempt_expires(alice_totp: Any, clock: Any) -> None:
    method, _secret = alice_totp
    challenge = start(method.user).challenge
    assert challenge is not None
    clock.advance(3600)
    with pytest.raises(ExpiredChallenge):
        nonbrowser.resume(attempt_id=challenge.attempt, token=challenge.token, channel=CHANNEL)
    assert SignInAttempt.objects.get().state == "expired"


def test_no_method_and_must_register_are_refusals(alice: Any) -> None:
    result = start(alice)
    assert not result.issue
    assert result.challenge is None
    assert result.step.outcome in (Outcome.NEED_METHOD, Outcome.REGISTER)
    assert result.message


@pytest.mark.django_db(transaction=True)
def test_waiting_times_out_as_pending(alice: Any, clock: Any, settings: Any) -> None:
    from vahva.methods import service

    service.save_new(
        alice, "voice", now=clock() - dt.timedelta(hours=1), data={"number": "+358441234521"}
    )
    challenge = start(alice).challenge
    assert challenge is not None
    assert challenge.waits
    attempt = nonbrowser.resume(
        attempt_id=challenge.attempt, token=challenge.token, channel=CHANNEL
    )
    state = asyncio.run(nonbrowser.wait_for_answer(attempt, requirement=ALWAYS, timeout=0.2))
    assert state == "pending"


def test_a_text_over_the_limit_is_refused_with_when(alice: Any, clock: Any, settings: Any) -> None:
    """The method's LimitReached challenge: the client is told, nothing is sent, and the log
    names the limit."""
    from vahva.audit.models import AuditEvent
    from vahva.methods import service
    from vahva.methods.phone.models import PhoneSend

    settings.VAHVA = {**settings.VAHVA, "PHONE_LIMITS": {"person": 1}}
    service.save_new(
        alice, "sms", now=clock() - dt.timedelta(hours=3), data={"number": "+358441234521"}
    )
    PhoneSend.objects.create(
        at=clock() - dt.timedelta(minutes=20),
        user=alice,
        number="+358441234521",
        country="FI",
        channel="sms",
    )
    result = start(alice)
    assert result.step.outcome == Outcome.REFUSE
    assert result.challenge is None
    assert "Too many texts or calls were asked for. Try again in 40 minutes" in result.message
    assert PhoneSend.objects.count() == 1
    assert AuditEvent.objects.get(action="test.mfa").reason == "LimitReached"
    assert SignInAttempt.objects.get().state == "failed"
