"""Approve-only requests (``match`` "none", for a VPN that cannot show a number) against the
ordinary ones with number matching: what the app is told, what it may answer, and the
cool-down after a deny that keeps a password thief from asking again at once."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from tests.authenticator.device import TestDevice
from vahva.audit.models import AuditEvent
from vahva.authenticator import service
from vahva.authenticator.challenges import cooling_down_until
from vahva.authenticator.errors import PushBusy, PushCoolingDown, PushDenied, PushPending
from vahva.authenticator.models import PushChallenge
from vahva.methods import registry
from vahva.methods.base import AttemptRef
from vahva.methods.challenges import Approve, Challenge, MatchNumber
from vahva.methods.models import RegisteredMethod

pytestmark = pytest.mark.django_db


def begin(user: Any, clock: Any, *, number_matching: bool) -> tuple[uuid.UUID, Challenge]:
    """A sign-in's push as the sign-in sends it: through the app method's ``begin`` (the web
    sign-in passes an AttemptRef with number matching; a wait-mode VPN without it)."""
    attempt = uuid.uuid4()
    registered = RegisteredMethod.objects.get(user=user, kind="app_push")
    shown = registry.get("app_push").begin(
        registered,
        now=clock(),
        attempt=AttemptRef(
            id=str(attempt), ip="192.0.2.7", service="VPN", number_matching=number_matching
        ),
    )
    return attempt, shown


def test_the_app_is_told_there_is_no_number_to_type(
    alice: Any, phone: TestDevice, clock: Any
) -> None:
    attempt, shown = begin(alice, clock, number_matching=False)
    # Nothing for the sign-in to show: it waits for Approve or Deny.
    assert isinstance(shown, Approve)
    (request,) = phone.challenges()
    assert request["match"] == "none"
    assert request["number_required"] is False
    assert request["service"] == "VPN"
    assert request["ip"] == "192.0.2.7"
    assert "number" not in request
    response = phone.answer(request, "approve", None)
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "approved"
    # The approval completes the sign-in it was given for, once.
    device = service.use_attempt_approval(alice, attempt, now=clock())
    assert str(device.pk) == phone.id


def test_an_ordinary_sign_in_keeps_number_matching(
    alice: Any, phone: TestDevice, clock: Any
) -> None:
    _attempt, shown = begin(alice, clock, number_matching=True)
    assert isinstance(shown, MatchNumber)
    (request,) = phone.challenges()
    assert request["match"] == "number"
    assert request["number_required"] is True


@pytest.mark.parametrize("number", [None, "", "  ", 0, True])
def test_an_app_that_skips_the_number_for_a_web_sign_in_is_refused(
    alice: Any, phone: TestDevice, clock: Any, number: Any
) -> None:
    """Attack: a modified app (or a script with the device's key) approves an ordinary web
    sign-in without typing the number, as if it were approve-only."""
    attempt, _shown = begin(alice, clock, number_matching=True)
    (request,) = phone.challenges()
    response = phone.answer(request, "approve", number)
    assert response.status_code == 400, response.content
    assert response.json()["message"] == "Type the two-digit number shown on the sign-in page."
    # Nothing was approved: the sign-in still waits, and cannot be completed.
    assert PushChallenge.objects.get(pk=request["id"]).state == "pending"
    with pytest.raises(PushPending):
        service.use_attempt_approval(alice, attempt, now=clock())


def test_an_approval_stored_without_its_number_completes_nothing(
    alice: Any, phone: TestDevice, clock: Any
) -> None:
    """Defence in depth: a number request marked approved without the number (a bug, a
    tampered row) is refused when the sign-in uses it."""
    attempt, _shown = begin(alice, clock, number_matching=True)
    PushChallenge.objects.filter(attempt=attempt).update(
        state="approved",
        answered_number=None,
        answered_by_id=uuid.UUID(phone.id),
        answered_at=clock(),
    )
    with pytest.raises(PushDenied):
        service.use_attempt_approval(alice, attempt, now=clock())


def test_a_deny_cools_approve_only_requests_down(
    alice: Any, phone: TestDevice, clock: Any, settings: Any
) -> None:
    settings.VAHVA = {**settings.VAHVA, "PUSH_APPROVE_ONLY_COOLDOWN": 300}
    begin(alice, clock, number_matching=False)
    (request,) = phone.challenges()
    assert phone.answer(request, "deny").status_code == 200
    clock.advance(60)
    # The thief's retry right after the deny reaches no phone.
    with pytest.raises(PushCoolingDown) as refused:
        begin(alice, clock, number_matching=False)
    assert str(refused.value.message) == (
        "You denied a sign-in request a moment ago, so no new one is sent for 4 minutes. "
        "Try again then."
    )
    assert refused.value.retry_after == 240
    assert phone.challenges() == []
    limited = AuditEvent.objects.get(action="push.limited")
    assert limited.data["limit"] == "cooldown"
    assert limited.data["service"] == "VPN"
    # A sign-in that shows the number is not held: the person types it, a thief cannot.
    _attempt, shown = begin(alice, clock, number_matching=True)
    assert isinstance(shown, MatchNumber)
    (numbered,) = phone.challenges()
    assert phone.answer(numbered, "approve", shown.number).status_code == 200
    # Once the cool-down is over, approve-only requests reach the phone again.
    clock.advance(240)
    begin(alice, clock, number_matching=False)
    (again,) = phone.challenges()
    assert again["match"] == "none"


def test_zero_turns_the_cool_down_off(
    alice: Any, phone: TestDevice, clock: Any, settings: Any
) -> None:
    begin(alice, clock, number_matching=False)
    (request,) = phone.challenges()
    assert phone.answer(request, "deny").status_code == 200
    assert cooling_down_until(alice, now=clock()) == clock() + dt.timedelta(seconds=300)
    settings.VAHVA = {**settings.VAHVA, "PUSH_APPROVE_ONLY_COOLDOWN": 0}
    assert cooling_down_until(alice, now=clock()) is None
    begin(alice, clock, number_matching=False)
    assert len(phone.challenges()) == 1


def test_a_number_sent_for_an_approve_only_request_is_ignored(
    alice: Any, phone: TestDevice, clock: Any
) -> None:
    attempt, _shown = begin(alice, clock, number_matching=False)
    (request,) = phone.challenges()
    assert phone.answer(request, "approve", 42).status_code == 200
    challenge = PushChallenge.objects.get(attempt=attempt)
    assert challenge.state == "approved"
    assert challenge.answered_number is None


def test_approve_only_requests_keep_the_allowance(
    alice: Any, phone: TestDevice, clock: Any
) -> None:
    """Push bombing: an approve-only request takes the same slots as any other."""
    begin(alice, clock, number_matching=False)
    with pytest.raises(PushBusy):
        begin(alice, clock, number_matching=False)
    assert len(phone.challenges()) == 1
