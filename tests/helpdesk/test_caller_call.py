"""The helpdesk's call with a code (issue #19 item 9): the first words say who calls and why,
never the code (a voicemail box records them); only # says it, while the check may still use
it; 0# reports the call; a forged, altered, expired or superseded call id says no code."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
import xml.etree.ElementTree as ET  # parses only TwiML vahva itself produced
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from tests.gateways.fake_twilio import FakeTwilio
from tests.gateways.test_twilio import _signed, twilio  # noqa: F401 (a fixture)
from tests.helpers import text
from tests.methods.phone_helpers import NUMBER, delivered
from vahva.accounts.models import User
from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.gateways import base as gateways
from vahva.gateways import dev
from vahva.gateways.base import CallEvent, CallEventKind, CallReply
from vahva.gateways.models import DevCall, OutboxMessage
from vahva.helpdesk.models import CallerCheck
from vahva.methods import service as methods
from vahva.methods.models import RegisteredMethod
from vahva.methods.phone.models import PhoneCode

pytestmark = pytest.mark.django_db

MASKED = "+358 44 *** **21"
SPOKEN = re.compile(r"Your code is (\d(?:, \d){5})\. Again: (\d(?:, \d){5})\.")


def _voice(user: User, clock: FakeClock) -> RegisteredMethod:
    return methods.save_new(
        user, "voice", now=clock() - dt.timedelta(days=1), data={"number": NUMBER, "language": "en"}
    )


def _call_for(desk: Client, person: User, registered: RegisteredMethod, ticket: str) -> str:
    """The agent starts a check by call; the check page's address."""
    started = desk.post(
        f"/helpdesk/people/{person.pk}/callers/",
        {"caller-way": f"voice:{registered.pk}", "caller-ticket": ticket},
    )
    assert started.status_code == 302, text(started)
    return str(started["Location"])


def _press(call: DevCall, keys: str) -> DevCall:
    for key in keys:
        dev.act(call, "key", key)
    return DevCall.objects.get(pk=call.pk)


def _heard_code(call: DevCall) -> str:
    found = SPOKEN.search(call.heard)
    assert found, call.heard
    assert found.group(1) == found.group(2)  # said twice
    return found.group(1).replace(", ", "")


def _answered() -> DevCall:
    delivered()
    call = dev.current_call(NUMBER)
    assert call is not None
    dev.act(call, "answer")
    return DevCall.objects.get(pk=call.pk)


def test_the_call_says_the_code_only_after_hash(
    desk: Client, alice: User, clock: FakeClock
) -> None:
    phone = _voice(alice, clock)
    page = _call_for(desk, alice, phone, "INC-20")
    assert f"We are calling {MASKED} with a code." in text(desk.get(page))
    # What waits in the outbox (encrypted, but readable with the key) holds no code.
    waiting = OutboxMessage.objects.get(channel="call")
    payload = json.loads(waiting.payload)
    assert not any(ch.isdigit() for ch in payload["say"] + payload["silence"])
    assert str(uuid.UUID(payload["call_id"])) == payload["call_id"]
    call = _answered()
    # The first words (all a voicemail box would record): who, why, and "press #".
    assert "Demo University" in call.say
    assert "The helpdesk asked us to call you with a code" in call.say
    assert "press the hash key" in call.say
    assert not any(ch.isdigit() for ch in call.say)
    assert call.heard == ""
    # A key that means nothing: the prompt again, no code.
    call = _press(call, "5#")
    assert "Press the hash key to hear the code" in call.heard
    assert not any(ch.isdigit() for ch in call.heard)
    call = _press(call, "#")
    code = _heard_code(call)
    assert call.state == "answered"  # still listening: # says it again
    assert code not in json.dumps({k: v for k, v in payload.items() if k != "call_id"})
    assert _heard_code(_press(call, "#")) == code
    # The agent's page accepts what the phone said.
    assert desk.post(f"{page}code/", {"code": code}).status_code == 302
    assert f"Verified by a code called to {MASKED}" in text(desk.get(page))
    # Used: a # now says goodbye, not a code worth nothing (or worth something elsewhere).
    over = _press(DevCall.objects.get(pk=call.pk), "#")
    assert over.state == "ended"
    assert "no longer valid" in over.heard
    assert code not in over.heard


def test_no_key_no_code(desk: Client, alice: User, clock: FakeClock) -> None:
    """Voicemail answers and records, and never presses #."""
    _call_for(desk, alice, _voice(alice, clock), "INC-21")
    call = _answered()
    dev.act(call, "hangup")
    ended = DevCall.objects.get(pk=call.pk)
    assert not any(ch.isdigit() for ch in ended.say + ended.heard)
    assert PhoneCode.objects.get().used is False  # the agent may still send another


def test_hash_twice_across_the_expiry(desk: Client, alice: User, clock: FakeClock) -> None:
    page = _call_for(desk, alice, _voice(alice, clock), "INC-22")
    call = _press(_answered(), "#")
    code = _heard_code(call)
    clock.advance(301)  # PHONE_CODE_TTL
    late = _press(call, "#")
    assert late.state == "ended"
    assert "no longer valid" in late.heard
    assert not any(ch.isdigit() for ch in late.heard)
    assert desk.post(f"{page}code/", {"code": code}).status_code == 410
    assert CallerCheck.objects.get().state != "verified"


def test_an_expired_call_says_no_code_even_the_first_time(
    desk: Client, alice: User, clock: FakeClock
) -> None:
    _call_for(desk, alice, _voice(alice, clock), "INC-23")
    call = _answered()
    clock.advance(301)
    late = _press(call, "#")
    assert "no longer valid" in late.heard
    assert not any(ch.isdigit() for ch in late.heard)
    # And # again (a retried webhook, a second gather): the same goodbye.
    again = gateways.call_event(CallEvent(str(call.call_id), CallEventKind.KEYS, keys="#"))
    assert again.reply == CallReply.GOODBYE
    assert not any(ch.isdigit() for ch in again.say)


def _call_id() -> str:
    call = DevCall.objects.get()
    return str(call.call_id)


@pytest.mark.parametrize(
    "forge",
    [
        lambda real: str(uuid.uuid4()),  # a call id nobody was given
        lambda real: real[:-1] + ("0" if real[-1] != "0" else "1"),  # the real one, altered
        lambda real: f"helpdesk-{real}",
        lambda real: "",
    ],
)
def test_a_forged_or_altered_call_id_gets_no_code(
    desk: Client, alice: User, clock: FakeClock, forge: Any
) -> None:
    _call_for(desk, alice, _voice(alice, clock), "INC-24")
    delivered()
    real = _call_id()
    forged = forge(real)
    answer = gateways.call_event(CallEvent(forged, CallEventKind.KEYS, keys="#"))
    assert answer.reply == CallReply.UNKNOWN
    assert answer.say == ""
    # The real call is untouched: its # still says the code.
    real_answer = gateways.call_event(CallEvent(real, CallEventKind.KEYS, keys="#"))
    assert SPOKEN.search(real_answer.say)


def test_a_key_rotated_away_says_goodbye_a_key_rotated_in_still_works(
    desk: Client, alice: User, clock: FakeClock, settings: Any
) -> None:
    _call_for(desk, alice, _voice(alice, clock), "INC-25")
    delivered()
    call_id = _call_id()
    old = dict(settings.VAHVA["ENCRYPTION_KEYS"])
    new = {"k2": "q2KZ1wT6M9o3lXr0YbV5sE8uN4cH7jAaFgPdLiOeUx0="}
    both = {**old, **new}
    settings.VAHVA = {**settings.VAHVA, "ENCRYPTION_KEYS": both, "ENCRYPTION_KEY_ID": "k2"}
    rotated = gateways.call_event(CallEvent(call_id, CallEventKind.KEYS, keys="#"))
    assert SPOKEN.search(rotated.say)
    # The key it was made under is gone: the code cannot be derived, so none is said.
    settings.VAHVA = {**settings.VAHVA, "ENCRYPTION_KEYS": new, "ENCRYPTION_KEY_ID": "k2"}
    gone = gateways.call_event(CallEvent(call_id, CallEventKind.KEYS, keys="#"))
    assert gone.reply == CallReply.GOODBYE
    assert not any(ch.isdigit() for ch in gone.say)


def test_a_new_call_for_the_check_retires_the_old_one(
    desk: Client, alice: User, clock: FakeClock
) -> None:
    from vahva.methods import registry
    from vahva.methods.phone import caller

    phone = _voice(alice, clock)
    _call_for(desk, alice, phone, "INC-26")
    delivered()
    first = _call_id()
    check = str(CallerCheck.objects.get().pk)
    clock.advance(61)
    registry.get("voice").send_caller_code(phone, check=check, now=clock())
    assert PhoneCode.objects.filter(attempt=caller.attempt_of(check)).count() == 2
    old = gateways.call_event(CallEvent(first, CallEventKind.KEYS, keys="#"))
    assert old.reply == CallReply.GOODBYE
    assert not any(ch.isdigit() for ch in old.say)


def test_the_zero_hash_alert_is_in_the_deployments_language(
    desk: Client,
    alice: User,
    clock: FakeClock,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.LANGUAGE_CODE = "sv"
    alice.language = "fi"
    alice.save(update_fields=["language"])
    _call_for(desk, alice, _voice(alice, clock), "INC-31")
    call = _press(_answered(), "#")
    with django_capture_on_commit_callbacks(execute=True):
        _press(call, "0#")
    (alert,) = [m for m in mail.outbox if m.to == ["helpdesk@demo.example"]]
    assert alert.subject.endswith(f"Helpdeskens samtal rapporterat: {alice.email}")
    assert "hen hade inte ringt helpdesken" in alert.body
    assert "verifiera inte den som ringer" in alert.body
    assert "did not call" not in alert.body


def test_zero_hash_reports_the_call_and_the_code_dies(
    desk: Client, alice: User, clock: FakeClock, django_capture_on_commit_callbacks: Any
) -> None:
    page = _call_for(desk, alice, _voice(alice, clock), "INC-27")
    call = _press(_answered(), "#")
    code = _heard_code(call)  # perhaps heard by whoever holds the phone...
    with django_capture_on_commit_callbacks(execute=True):
        reported = _press(call, "0#")
    # ...but the person says they did not call the helpdesk.
    assert reported.state == "ended"
    assert "We have told the helpdesk" in reported.heard
    event = AuditEvent.objects.get(action="phone.reported")
    assert event.subject_id == alice.pk
    assert event.outcome == "failure"
    assert event.data["check"] == str(CallerCheck.objects.get().pk)
    (alert,) = [m for m in mail.outbox if m.to == ["helpdesk@demo.example"]]
    assert "did not call the helpdesk" in alert.body
    assert "do not verify the caller" in alert.body
    assert "may already have been read out" not in alert.body
    # The impostor on the line reads the code out: refused.
    refused = desk.post(f"{page}code/", {"code": code})
    assert refused.status_code == 403
    assert "they did not call the helpdesk. Do not verify this caller" in text(refused)
    assert CallerCheck.objects.get().state != "verified"
    failure = AuditEvent.objects.filter(action="helpdesk.caller_check").last()
    assert failure is not None
    assert (failure.outcome, failure.reason) == ("failure", "CallReported")
    from vahva.audit import sentences

    why = sentences.describe(
        action="helpdesk.caller_check", outcome="failure", reason="CallReported", data={}
    ).why
    assert "they had not called the helpdesk" in why


def test_zero_hash_after_the_agent_accepted_the_code_still_reports_once(
    desk: Client, alice: User, clock: FakeClock, django_capture_on_commit_callbacks: Any
) -> None:
    page = _call_for(desk, alice, _voice(alice, clock), "INC-29")
    call = _press(_answered(), "#")
    # The impostor, who can hear Alice's phone, reads the code out first.
    assert desk.post(f"{page}code/", {"code": _heard_code(call)}).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        reported = _press(call, "0#")
    assert "We have told the helpdesk" in reported.heard
    (alert,) = [m for m in mail.outbox if m.to == ["helpdesk@demo.example"]]
    assert "may already have been read out and accepted" in alert.body
    # A replayed 0# (the gateway retrying, or a second call's) alerts nobody again.
    again = gateways.call_event(CallEvent(str(call.call_id), CallEventKind.KEYS, keys="0#"))
    assert again.reply == CallReply.GOODBYE
    assert AuditEvent.objects.filter(action="phone.reported").count() == 1


def test_the_audit_row_of_a_report_is_a_sentence() -> None:
    from vahva.audit import sentences

    words = sentences.describe(
        action="phone.reported",
        outcome="failure",
        reason="0# pressed on the helpdesk's call: the person did not call the helpdesk",
        data={},
    )
    assert "they did not call the helpdesk" in words.why


def test_sign_in_calls_are_still_theirs(alice: User, clock: FakeClock) -> None:
    """The dispatch: a sign-in call's events never reach the helpdesk's handler."""
    from vahva.methods import registry
    from vahva.methods.base import AttemptRef
    from vahva.methods.phone.models import PhoneCall

    saved = _voice(alice, clock)
    attempt = AttemptRef(id=str(uuid.uuid4()))
    registry.get("voice").begin(saved, now=clock(), attempt=attempt)
    call = _press(_answered(), "#")
    assert "You can hang up now" in call.heard
    assert PhoneCall.objects.get().state == "approved"


def test_through_twilio_the_code_comes_only_with_the_gather(
    desk: Client,
    client: Client,
    alice: User,
    clock: FakeClock,
    twilio: FakeTwilio,  # noqa: F811
) -> None:
    page = _call_for(desk, alice, _voice(alice, clock), "INC-28")
    delivered()
    (_path, body, _auth) = twilio.requests[-1]
    first = ET.fromstring(body["Twiml"][0])  # noqa: S314
    said = "".join(first.itertext())
    assert "press the hash key" in said
    assert not any(ch.isdigit() for ch in said)
    call_id = body["StatusCallback"][0].rsplit("/", 1)[-1]
    status = _signed(client, f"/gateways/twilio/status/{call_id}", {"CallStatus": "in-progress"})
    assert status.status_code == 204
    gather = _signed(client, f"/gateways/twilio/gather/{call_id}", {"Digits": "#"})
    assert gather.status_code == 200
    root = ET.fromstring(gather.content)  # noqa: S314
    assert root.find("Gather") is not None  # still listening for another #
    code = SPOKEN.search("".join(root.itertext()))
    assert code
    assert desk.post(f"{page}code/", {"code": code.group(1).replace(", ", "")}).status_code == 302
    # A forged call id, even signed: no code.
    forged = _signed(client, f"/gateways/twilio/gather/{uuid.uuid4()}", {"Digits": "#"})
    assert forged.status_code == 404


def test_the_first_words_and_the_reply_to_hash_speak_the_persons_language(
    desk: Client, alice: User, clock: FakeClock
) -> None:
    from django.utils import translation

    phone = methods.save_new(
        alice,
        "voice",
        now=clock() - dt.timedelta(days=1),
        data={"number": NUMBER, "language": "fi"},
    )
    _call_for(desk, alice, phone, "INC-30")  # the agent's page is in English
    placed = json.loads(OutboxMessage.objects.get(channel="call").payload)
    assert placed["language"] == "fi"
    delivered()
    # The webhook's request carries some other language (or none): the reply keeps Alice's.
    with translation.override("sv"):
        answer = gateways.call_event(CallEvent(_call_id(), CallEventKind.KEYS, keys="#"))
    assert answer.reply == CallReply.AGAIN
    assert answer.language == "fi"
