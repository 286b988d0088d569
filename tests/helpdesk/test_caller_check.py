"""Verifying a caller: the agent's page shows a number, the person's app shows "The helpdesk
is checking it's you", the person types the number and approves; the agent's page then says
who approved, or that nobody did. And "Deny and report" tells the other rooms."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils.timezone import localtime

from tests.authenticator.device import TestDevice
from tests.helpers import text
from vahva.accounts.models import User
from vahva.audit.models import AuditEvent
from vahva.authenticator import challenges
from vahva.authenticator import service as devices
from vahva.authenticator.models import PushChallenge
from vahva.authenticator.signals import fraud_reported

pytestmark = pytest.mark.django_db

NUMBER = re.compile(r'id="check-number">(\d{2})<')


@pytest.fixture
def reports() -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        seen.append(kwargs)

    fraud_reported.connect(receiver, dispatch_uid="tests.helpdesk.reports")
    yield seen
    fraud_reported.disconnect(dispatch_uid="tests.helpdesk.reports")


def _send(desk: Client, person: User, ticket: str = "INC-50") -> Any:
    return desk.post(f"/helpdesk/people/{person.pk}/check/", {"check-ticket": ticket})


def _open_check(desk: Client, person: User) -> tuple[str, int]:
    """Send a check; the check page's URL and the number it shows."""
    sent = _send(desk, person)
    assert sent.status_code == 302, text(sent)
    page = desk.get(sent["Location"])
    found = NUMBER.search(text(page))
    assert found, text(page)
    return sent["Location"], int(found.group(1))


def test_the_caller_approves_with_the_number(
    desk: Client, agent: User, alice: User, phone: TestDevice, clock: Any
) -> None:
    url, number = _open_check(desk, alice)
    assert desk.get(url + "status/").json() == {"state": "pending"}
    (request,) = phone.challenges()
    # The app is told what this is: not a sign-in, and no address or service to show.
    assert request["purpose"] == "helpdesk"
    assert (request["service"], request["ip"]) == ("", None)
    assert phone.answer(request, "approve", number).json()["state"] == "approved"
    assert desk.get(url + "status/").json() == {"state": "done"}
    page = text(desk.get(url))
    at = localtime(clock()).strftime("%H:%M:%S")
    assert f"Verified: the caller approved on Alice&#x27;s phone at {at}." in page
    sent = AuditEvent.objects.get(action="helpdesk.check_sent")
    assert (sent.actor_id, sent.subject_id, sent.data["ticket"]) == (agent.pk, alice.pk, "INC-50")
    answered = AuditEvent.objects.get(action="helpdesk.caller_check")
    assert (answered.outcome, answered.data["ticket"]) == ("ok", "INC-50")
    assert answered.data["device_name"] == "Alice's phone"


def test_an_approval_signs_nobody_in(
    desk: Client, alice: User, phone: TestDevice, clock: Any
) -> None:
    _url, number = _open_check(desk, alice)
    (request,) = phone.challenges()
    phone.answer(request, "approve", number)
    check = PushChallenge.objects.get(purpose="helpdesk")
    assert check.attempt is None
    assert check.enrolment is None
    # The check is not a sign-in attempt's approval: there is none to use.
    assert devices.attempt_state(alice, uuid.uuid4(), now=clock()) == "expired"


def test_a_wrong_number_three_times_denies(
    desk: Client, alice: User, phone: TestDevice, clock: Any
) -> None:
    url, number = _open_check(desk, alice)
    (request,) = phone.challenges()
    wrong = 10 if number != 10 else 11
    first = phone.answer(request, "approve", wrong)
    assert first.status_code == 400
    assert first.json()["message"] == (
        "That is not the number the helpdesk read to you. Check it and try again."
    )
    phone.answer(request, "approve", wrong)
    third = phone.answer(request, "approve", wrong)
    assert "The request was denied." in third.json()["message"]
    assert "Not verified: the request was denied on Alice&#x27;s phone." in text(desk.get(url))
    event = AuditEvent.objects.get(action="helpdesk.caller_check")
    assert event.outcome == "failure"
    assert event.reason == "3 wrong numbers typed for the helpdesk's check"


def test_a_denial(desk: Client, alice: User, phone: TestDevice, clock: Any) -> None:
    url, _number = _open_check(desk, alice)
    (request,) = phone.challenges()
    phone.answer(request, "deny")
    assert "Not verified: the request was denied on Alice&#x27;s phone." in text(desk.get(url))
    assert AuditEvent.objects.get(action="helpdesk.caller_check").outcome == "failure"
    # Not a sign-in refusal: Security info's "you denied a sign-in" stays empty.
    assert not AuditEvent.objects.filter(action="push.denied").exists()


def test_a_report_warns_the_agent_and_tells_the_other_rooms(
    desk: Client, alice: User, phone: TestDevice, clock: Any, reports: list[dict[str, Any]]
) -> None:
    url, _number = _open_check(desk, alice)
    (request,) = phone.challenges()
    phone.answer(request, "report")
    page = text(desk.get(url))
    assert "the person said they are not the one talking to the helpdesk" in page
    assert "Do not act on this call" in page
    assert reports == [{"signal": fraud_reported, "user": alice, "purpose": "helpdesk"}]
    event = AuditEvent.objects.get(action="helpdesk.caller_check")
    assert event.data["state"] == "reported"
    person = text(desk.get(f"/helpdesk/people/{alice.pk}/"))
    assert "a helpdesk check was answered “I'm not the caller”" in person


def test_a_sign_in_report_sends_the_signal(
    alice: User, phone: TestDevice, clock: Any, reports: list[dict[str, Any]]
) -> None:
    # A plain denial is not a report.
    devices.push_for_attempt(
        alice, attempt=uuid.uuid4(), device_ids=[phone.id], now=clock(), context={}
    )
    (request,) = phone.challenges()
    phone.answer(request, "deny")
    assert reports == []
    devices.push_for_attempt(
        alice, attempt=uuid.uuid4(), device_ids=[phone.id], now=clock(), context={}
    )
    (request,) = phone.challenges()
    phone.answer(request, "report")
    assert reports == [{"signal": fraud_reported, "user": alice, "purpose": "signin"}]


def test_an_unanswered_check_expires(
    desk: Client, alice: User, phone: TestDevice, clock: Any
) -> None:
    url, _number = _open_check(desk, alice)
    clock.advance(challenges.HELPDESK_CHECK_TTL + 1)
    assert desk.get(url + "status/").json() == {"state": "done"}
    page = text(desk.get(url))
    assert "Not verified: the request expired without an answer." in page
    # "Send another check" keeps the ticket.
    assert 'value="INC-50"' in page
    (request,) = phone.challenges() or [None]
    assert request is None


def test_a_double_click_sends_one_check(
    desk: Client, alice: User, phone: TestDevice, clock: Any
) -> None:
    first = _send(desk, alice)
    second = _send(desk, alice)
    assert first["Location"] == second["Location"]
    assert PushChallenge.objects.filter(purpose="helpdesk").count() == 1


def test_checks_are_limited(desk: Client, alice: User, phone: TestDevice, clock: Any) -> None:
    for _ in range(challenges.MAX_HELPDESK_CHECKS):
        _open_check(desk, alice)
        (request,) = phone.challenges()
        phone.answer(request, "deny")
    refused = _send(desk, alice)
    assert refused.status_code == 429
    assert "Too many checks were sent to this person." in text(refused)
    assert int(refused["Retry-After"]) > 0
    assert PushChallenge.objects.filter(purpose="helpdesk").count() == 3
    clock.advance(challenges.HELPDESK_CHECK_WINDOW + 1)
    assert _send(desk, alice).status_code == 302


def test_a_check_needs_a_ticket(desk: Client, alice: User, phone: TestDevice) -> None:
    refused = _send(desk, alice, ticket="")
    assert refused.status_code == 400
    assert "Enter the helpdesk ticket number." in text(refused)
    assert not PushChallenge.objects.filter(purpose="helpdesk").exists()
    assert phone.challenges() == []


def test_no_app_no_check(desk: Client, alice: User) -> None:
    page = text(desk.get(f"/helpdesk/people/{alice.pk}/"))
    assert "The person has no vahva app to send a check to." in page
    refused = _send(desk, alice)
    assert refused.status_code == 409
    assert "This person has no vahva app that could receive the request." in text(refused)


def test_another_persons_check_is_not_found(
    desk: Client,
    alice: User,
    phone: TestDevice,
    make_user: Callable[..., Any],
    make_phone: Callable[..., TestDevice],
    clock: Any,
) -> None:
    url, _number = _open_check(desk, alice)
    bob = make_user("bob@example.org", full_name="Bob")
    check_id = url.rstrip("/").rsplit("/", 1)[1]
    other = f"/helpdesk/people/{bob.pk}/check/{check_id}/"
    assert desk.get(other).status_code == 404
    assert desk.get(other + "status/").status_code == 404
    assert desk.get(other + "status/").json()["state"] == "gone"
    # A sign-in push's id is not a helpdesk check either.
    push = devices.push_for_attempt(
        alice, attempt=uuid.uuid4(), device_ids=[phone.id], now=clock(), context={}
    )
    assert desk.get(f"/helpdesk/people/{alice.pk}/check/{push.pk}/").status_code == 404
