"""The voice method: the call's script, its states driven by gateway events, # approves once,
0# reports (audit + helpdesk), and the method contract."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.core import mail

from tests.methods.contract import MethodContract
from tests.methods.phone_helpers import NUMBER, answer_and_press, delivered
from vahva.audit.models import AuditEvent
from vahva.errors import MalformedInput
from vahva.gateways import base as gateways
from vahva.gateways import dev
from vahva.gateways.base import CallEvent, CallEventKind, CallReply
from vahva.gateways.models import DevCall
from vahva.methods import registry
from vahva.methods.base import AttemptRef
from vahva.methods.models import PendingEnrolment, RegisteredMethod
from vahva.methods.phone import calls
from vahva.methods.phone.models import PhoneCall


def call_me(pending: PendingEnrolment, now: dt.datetime) -> PendingEnrolment:
    form = {"number": "044 1234521", "country": "FI", "delivery": "voice"}
    pending = registry.get(pending.kind).enrolment_action(pending, "send", form, now=now, ip=None)
    delivered()
    return pending


def enrolled(user: Any, now: dt.datetime) -> RegisteredMethod:
    method = registry.get("voice")
    pending = call_me(method.start_enrolment(user, now=now), now)
    answer_and_press("#")
    call = PhoneCall.objects.get(pending=pending)
    return method.finish_enrolment(pending, str(call.pk), now=now)


class TestVoiceContract(MethodContract):
    kind = "voice"

    def right_answer(
        self, secret_holder: PendingEnrolment | RegisteredMethod, now: dt.datetime
    ) -> str:
        if isinstance(secret_holder, PendingEnrolment):
            if not PhoneCall.objects.filter(pending=secret_holder).exists():
                call_me(secret_holder, now)
                answer_and_press("#")
            return str(PhoneCall.objects.get(pending=secret_holder).pk)
        attempt = AttemptRef(id=str(uuid.uuid4()))
        registry.get("voice").begin(secret_holder, now=now, attempt=attempt)
        answer_and_press("#")
        return attempt.id

    def wrong_answer(
        self, secret_holder: PendingEnrolment | RegisteredMethod, now: dt.datetime
    ) -> str:
        return str(uuid.uuid4())  # a call (or attempt) nobody approved


def test_the_call_says_who_calls_and_never_a_code(alice: Any, clock: Any) -> None:
    saved = enrolled(alice, clock())
    clock.advance(60)
    registry.get("voice").begin(
        saved, now=clock(), attempt=AttemptRef(id=str(uuid.uuid4()), service="Mail")
    )
    delivered()
    say = dev.current_call(NUMBER).say
    assert "Demo University" in say
    assert "Mail" in say
    assert "hash key" in say
    assert "zero" in say
    assert not any(ch.isdigit() for ch in say)


def test_enrolment_states_follow_the_call(alice: Any, clock: Any) -> None:
    method = registry.get("voice")
    pending = call_me(method.start_enrolment(alice, now=clock()), clock())
    assert method.enrolment_status(pending, now=clock())["state"] == "calling"
    call = dev.current_call(NUMBER)
    dev.act(call, "answer")
    assert method.enrolment_status(pending, now=clock())["state"] == "answered"
    dev.act(call, "key", "5")
    dev.act(call, "key", "#")  # "5#": means nothing, the call asks again
    assert method.enrolment_status(pending, now=clock())["state"] == "answered"
    assert "Press the hash key" in DevCall.objects.get(pk=call.pk).heard
    dev.act(call, "key", "#")
    status = method.enrolment_status(pending, now=clock())
    assert status["state"] == "approved"
    assert status["response"] == PhoneCall.objects.get().pk.hex
    assert DevCall.objects.get(pk=call.pk).state == "ended"


@pytest.mark.parametrize(
    ("action", "message"),
    [("decline", "not answered"), ("hangup", "ended before #")],
)
def test_unanswered_or_hung_up_calls_say_so(
    action: str, message: str, alice: Any, clock: Any
) -> None:
    method = registry.get("voice")
    pending = call_me(method.start_enrolment(alice, now=clock()), clock())
    call = dev.current_call(NUMBER)
    if action == "hangup":
        dev.act(call, "answer")
    dev.act(call, action)
    status = method.enrolment_status(pending, now=clock())
    assert status["state"] == "expired"
    assert message in status["message"]
    with pytest.raises(calls.NotApproved):
        method.finish_enrolment(pending, str(PhoneCall.objects.get().pk), now=clock())
    assert not RegisteredMethod.objects.exists()


def test_an_unanswered_call_expires(alice: Any, clock: Any) -> None:
    method = registry.get("voice")
    pending = call_me(method.start_enrolment(alice, now=clock()), clock())
    clock.advance(121)
    assert method.enrolment_status(pending, now=clock())["state"] == "expired"
    # A late # is not an approval.
    call = dev.current_call(NUMBER)
    dev.act(call, "answer")
    dev.act(call, "key", "#")
    assert PhoneCall.objects.get().state != calls.APPROVED


def test_zero_hash_reports_audits_alerts_and_holds_calls(
    alice: Any, clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    saved = enrolled(alice, clock())
    method = registry.get("voice")
    attempt = AttemptRef(id=str(uuid.uuid4()), ip="198.51.100.9", service="Mail")
    clock.advance(60)
    method.begin(saved, now=clock(), attempt=attempt)
    with django_capture_on_commit_callbacks(execute=True):
        answer_and_press("0#")
    assert method.status(saved, attempt=attempt, now=clock()) == "denied"
    event = AuditEvent.objects.get(action="phone.reported")
    assert event.data["signin_ip"] == "198.51.100.9"
    assert [m.to for m in mail.outbox] == [["helpdesk@demo.example"]]
    assert "0#" in mail.outbox[0].body
    with pytest.raises(calls.CallsHeld):
        method.begin(saved, now=clock(), attempt=AttemptRef(id=str(uuid.uuid4())))


def test_the_zero_hash_alert_is_in_the_deployments_language(
    alice: Any, clock: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # A Finnish deployment; the person speaks Swedish, and the call spoke it to them. The
    # helpdesk's shared address reads the deployment's language, whoever set the alert off.
    settings.LANGUAGE_CODE = "fi"
    alice.language = "sv"
    alice.save(update_fields=["language"])
    saved = enrolled(alice, clock())
    method = registry.get("voice")
    clock.advance(60)
    method.begin(saved, now=clock(), attempt=AttemptRef(id=str(uuid.uuid4()), service="Mail"))
    with django_capture_on_commit_callbacks(execute=True):
        answer_and_press("0#")
    (alert,) = mail.outbox
    assert alert.subject.endswith(f"Ilmoitettu kirjautumispuhelu: {alice.email}")
    assert f"{alice.email} painoi kirjautumispuhelussa 0#" in alert.body
    assert "Palvelu: Mail" in alert.body
    assert "Puheluita hänelle pidätetään" in alert.body
    assert "pressed" not in alert.body


def test_sign_in_approval_is_used_once_and_only_by_its_attempt(alice: Any, clock: Any) -> None:
    saved = enrolled(alice, clock())
    method = registry.get("voice")
    mine, other = str(uuid.uuid4()), str(uuid.uuid4())
    clock.advance(60)
    method.begin(saved, now=clock(), attempt=AttemptRef(id=mine))
    assert method.status(saved, attempt=AttemptRef(id=mine), now=clock()) == "pending"
    # A reload does not ring again.
    method.begin(saved, now=clock(), attempt=AttemptRef(id=mine))
    assert PhoneCall.objects.filter(attempt=mine).count() == 1
    answer_and_press("#")
    assert method.status(saved, attempt=AttemptRef(id=mine), now=clock()) == "approved"
    with pytest.raises(calls.NotApproved):
        method.verify(saved, other, now=clock())
    method.verify(saved, mine, now=clock())
    with pytest.raises(calls.NotApproved):
        method.verify(saved, mine, now=clock())


def test_events_for_unknown_calls_are_unknown(db: Any) -> None:
    for call_id in (str(uuid.uuid4()), "not-a-uuid", ""):
        answer = gateways.call_event(CallEvent(call_id, CallEventKind.KEYS, keys="#"))
        assert answer.reply == CallReply.UNKNOWN


def test_garbage_enrolment_answers(alice: Any, clock: Any) -> None:
    method = registry.get("voice")
    pending = call_me(method.start_enrolment(alice, now=clock()), clock())
    for garbage in ("", "x" * 40, "<script>"):
        with pytest.raises(MalformedInput):
            method.finish_enrolment(pending, garbage, now=clock())
