"""The outbox: texts, calls and mail leave after the commit, with no transaction open; a
rolled-back transaction sends nothing; a refusal is recorded, refunded and shown; a stopped
process's messages are delivered or expired by ``vahva outbox``."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction

from tests.gateways import recording
from tests.gateways.recording import RecordingGateway, RecordingMail
from vahva.clock import FakeClock
from vahva.gateways import outbox
from vahva.gateways.base import GatewayError
from vahva.gateways.models import OutboxMessage
from vahva.methods import calls, registry, service, sms
from vahva.methods.base import AttemptRef
from vahva.methods.models import PendingEnrolment, PhoneCall, PhoneCode, PhoneSend

NUMBER = "+358441234521"
State = OutboxMessage.State


class Boom(Exception):
    pass


@pytest.fixture
def gateway(settings: Any) -> Iterator[type[RecordingGateway]]:
    recording.use(settings)
    yield RecordingGateway
    RecordingGateway.reset()


def _send(pending: PendingEnrolment, clock: FakeClock, delivery: str = "sms") -> Any:
    form = {"number": "044 1234521", "country": "FI", "delivery": delivery}
    return registry.get(pending.kind).enrolment_action(
        pending, "send", form, now=clock(), ip="192.0.2.7"
    )


# --- after the commit, never inside a transaction ---------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_text_leaves_after_the_commit_with_no_transaction_open(
    gateway: type[RecordingGateway], alice: Any, clock: FakeClock
) -> None:
    _send(registry.get("sms").start_enrolment(alice, now=clock()), clock)
    (text,) = recording.texts()
    assert text.to == NUMBER
    assert "sign-in code" in text.body
    assert text.in_transaction is False
    row = OutboxMessage.objects.get()
    # Retired: the provider's id kept, the text (which holds the code) wiped.
    assert (row.state, row.provider_id, row.payload) == (State.SENT, "fake-1", "")
    assert PhoneCode.objects.get().message == row
    assert PhoneSend.objects.get().message == row


@pytest.mark.django_db(transaction=True)
def test_a_call_is_placed_after_its_row_is_committed(
    gateway: type[RecordingGateway], alice: Any, clock: FakeClock
) -> None:
    saved = service.save_new(
        alice, "voice", now=clock() - dt.timedelta(hours=1), data={"number": NUMBER}
    )
    registry.get("voice").begin(saved, now=clock(), attempt=AttemptRef(id=str(uuid.uuid4())))
    (call,) = recording.calls()
    assert call.in_transaction is False
    # The provider's first status callback can already find the call.
    assert call.call_row_committed is True
    assert "hash key" in call.body
    assert OutboxMessage.objects.get().state == State.SENT


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_sends_nothing(
    gateway: type[RecordingGateway], alice: Any, clock: FakeClock
) -> None:
    def write_all_then_fail() -> None:
        with transaction.atomic():
            sms.send_code(alice, NUMBER, now=clock(), attempt="a")
            calls.place_call(alice, NUMBER, now=clock(), attempt=AttemptRef(id="b"))
            outbox.send_mail_after_commit("Subject", "Body", ["helpdesk@demo.example"])
            assert OutboxMessage.objects.count() == 3
            raise Boom()

    with pytest.raises(Boom):
        write_all_then_fail()
    assert RecordingGateway.seen == []
    assert RecordingMail.seen == []
    assert not OutboxMessage.objects.exists()
    assert not PhoneCode.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_mail_written_in_a_transaction_leaves_after_its_commit(
    gateway: type[RecordingGateway], db: Any
) -> None:
    with transaction.atomic():
        outbox.send_mail_after_commit("Reported", "0# pressed", ["helpdesk@demo.example"])
        assert RecordingMail.seen == []  # not while the transaction is open
    (sent,) = RecordingMail.seen
    assert (sent.to, sent.body, sent.in_transaction) == (
        "helpdesk@demo.example",
        "0# pressed",
        False,
    )
    assert OutboxMessage.objects.get().state == State.SENT
    assert outbox.send_mail_after_commit("No one", "x", []) is None


@pytest.mark.django_db(transaction=True)
def test_the_limit_alert_mail_leaves_after_the_commit(
    gateway: type[RecordingGateway], alice: Any, clock: FakeClock, settings: Any
) -> None:
    settings.VAHVA = {**settings.VAHVA, "PHONE_DAILY_CAP": 1}
    method = registry.get("sms")
    _send(method.start_enrolment(alice, now=clock()), clock)
    with pytest.raises(sms.phone.LimitReached):
        _send(method.start_enrolment(alice, now=clock()), clock)
    (alert,) = RecordingMail.seen
    assert alert.to == "helpdesk@demo.example"
    assert "daily limit" in alert.body
    assert alert.in_transaction is False


# --- a refusal ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_refused_text_is_recorded_refunded_and_shown(
    gateway: type[RecordingGateway], alice: Any, clock: FakeClock
) -> None:
    gateway.refuse = "21211: Invalid 'To' Phone Number"
    method = registry.get("sms")
    pending = method.start_enrolment(alice, now=clock())
    with pytest.raises(GatewayError) as caught:
        _send(pending, clock)
    assert caught.value.status == 502
    assert "could not reach the phone service" in str(caught.value.message)
    row = OutboxMessage.objects.get()
    assert row.state == State.FAILED
    assert row.error == "21211: Invalid 'To' Phone Number"
    assert row.payload == ""
    # Not sent, so not counted, no code left, and the page asks for the number again.
    assert not PhoneSend.objects.exists()
    assert not PhoneCode.objects.exists()
    assert PendingEnrolment.objects.get().data == {}
    # The person tries again at once (no resend wait for a text that never went).
    gateway.refuse = None
    _send(PendingEnrolment.objects.get(), clock)
    assert len(recording.texts()) == 2
    assert PhoneSend.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_call_that_cannot_be_placed_says_so(
    gateway: type[RecordingGateway], alice: Any, clock: FakeClock
) -> None:
    gateway.refuse = "13224: not a valid phone number"
    method = registry.get("voice")
    saved = service.save_new(
        alice, "voice", now=clock() - dt.timedelta(hours=1), data={"number": NUMBER}
    )
    attempt = AttemptRef(id=str(uuid.uuid4()))
    with pytest.raises(GatewayError):
        method.begin(saved, now=clock(), attempt=attempt)
    assert PhoneCall.objects.get().state == calls.FAILED
    assert method.status(saved, attempt=attempt, now=clock()) == "expired"
    assert not PhoneSend.objects.exists()
    # Enrolment: the waiting page tells why.
    pending = method.start_enrolment(alice, now=clock())
    with pytest.raises(GatewayError):
        _send(pending, clock, delivery="voice")
    call = PhoneCall.objects.get(pending=pending)
    status = method.enrolment_status(PendingEnrolment.objects.get(pk=pending.pk), now=clock())
    assert call.state == calls.FAILED
    assert status["state"] == "expired"
    assert "could not call your phone" in status["message"]


# --- a process that stopped: `vahva outbox` ---------------------------------------------------


def _stopped(capture: Any, alice: Any, clock: FakeClock, *, number: str = NUMBER) -> OutboxMessage:
    """A code whose process stopped after the commit: its delivery never ran."""
    with capture(execute=False):
        code = sms.send_code(alice, number, now=clock(), attempt="x")
        service_send = sms.phone.Send(number, alice, None, "sms")
        sms.phone.reserve_audited(service_send, now=clock(), message=code.message)
    assert code.message is not None
    return code.message


def test_the_outbox_command_delivers_what_a_stopped_process_left(
    gateway: type[RecordingGateway],
    alice: Any,
    clock: FakeClock,
    django_capture_on_commit_callbacks: Any,
) -> None:
    message = _stopped(django_capture_on_commit_callbacks, alice, clock)
    out = io.StringIO()
    call_command("outbox", stdout=out)
    assert "0 sent" in out.getvalue()  # younger than 10 s: the request itself delivers it
    clock.advance(11)
    call_command("outbox", stdout=out)
    assert "1 sent" in out.getvalue()
    assert len(recording.texts()) == 1
    message.refresh_from_db()
    assert message.state == State.SENT
    call_command("outbox", stdout=out)
    assert len(recording.texts()) == 1  # once


def test_the_outbox_command_expires_what_is_no_longer_worth_sending(
    gateway: type[RecordingGateway],
    alice: Any,
    clock: FakeClock,
    django_capture_on_commit_callbacks: Any,
) -> None:
    message = _stopped(django_capture_on_commit_callbacks, alice, clock)
    clock.advance(301)  # the code's five minutes are over
    call_command("outbox", stdout=io.StringIO())
    message.refresh_from_db()
    assert (message.state, message.payload) == (State.EXPIRED, "")
    assert recording.texts() == []
    # Never sent: refunded, and the code is gone.
    assert not PhoneSend.objects.exists()
    assert not PhoneCode.objects.exists()


def test_a_message_stuck_in_sending_is_never_sent_twice(
    gateway: type[RecordingGateway],
    alice: Any,
    clock: FakeClock,
    django_capture_on_commit_callbacks: Any,
) -> None:
    message = _stopped(django_capture_on_commit_callbacks, alice, clock)
    # The process claimed it and stopped while the provider was being asked.
    OutboxMessage.objects.filter(pk=message.pk).update(state=State.SENDING, claimed_at=clock())
    clock.advance(301)
    call_command("outbox", stdout=io.StringIO())
    message.refresh_from_db()
    assert message.state == State.FAILED
    assert "not sent again" in message.error
    assert recording.texts() == []
    assert outbox.deliver(message.pk) == State.FAILED
    assert recording.texts() == []
    # Kept 30 days for the helpdesk, then deleted.
    clock.advance(31 * 86400)
    call_command("outbox", stdout=io.StringIO())
    assert not OutboxMessage.objects.exists()


def test_two_deliveries_of_one_message_send_it_once(
    gateway: type[RecordingGateway],
    alice: Any,
    clock: FakeClock,
    django_capture_on_commit_callbacks: Any,
) -> None:
    message = _stopped(django_capture_on_commit_callbacks, alice, clock)
    assert outbox.deliver(message.pk) == State.SENT
    assert outbox.deliver(message.pk) == State.SENT
    assert len(recording.texts()) == 1
