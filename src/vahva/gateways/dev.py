"""The dev gateway: texts and calls land in the database and show on /dev/phone.

Everything works on one laptop with no accounts anywhere: the dev phone page plays the
phone's part (read the text, answer the call, press #), and it sends the same call events a
real provider's webhooks would.
"""

from __future__ import annotations

import uuid

from django.conf import settings as django_settings
from django.db import transaction

from vahva import clock
from vahva.conf import settings

from .base import Answer, Call, CallEvent, CallEventKind, CallReply, Gateway, call_event, get
from .models import DevCall, DevText

#: The keys the dev phone's keypad has; "#" finishes what was typed.
KEYS = "123456789*0#"
FINISH = "#"


class DevGateway(Gateway):
    dev_phone = True

    def send_sms(self, number: str, text: str) -> str:
        message = DevText.objects.create(number=number, text=text, sent_at=clock.now())
        return f"dev-sms-{message.pk}"

    def start_call(self, call: Call) -> str:
        DevCall.objects.create(
            call_id=call.call_id,
            number=call.number,
            say=call.say,
            started_at=clock.now(),
        )
        return f"dev-call-{call.call_id}"


def enabled() -> bool:
    """The dev phone exists only with the dev gateway, and only in development or when
    VAHVA["DEV_PHONE"] asks for it (tests, demos): never in a production configuration."""
    try:
        gateway = get()
    except ImportError:
        return False
    return gateway.dev_phone and (bool(django_settings.DEBUG) or bool(settings.DEV_PHONE))


def numbers() -> list[str]:
    texted = DevText.objects.values_list("number", flat=True)
    called = DevCall.objects.values_list("number", flat=True)
    return sorted(set(texted) | set(called))


def current_call(number: str) -> DevCall | None:
    return DevCall.objects.filter(number=number).exclude(state="ended").first()


def _end(call: DevCall, heard: str) -> None:
    call.state = "ended"
    call.heard = heard
    call.save(update_fields=["state", "heard"])


def _hear(call: DevCall, answer: Answer) -> None:
    if answer.reply == CallReply.AGAIN:
        call.heard = answer.say
        call.save(update_fields=["heard"])
    elif answer.reply != CallReply.CONTINUE:
        _end(call, answer.say)


def act(call: DevCall, action: str, key: str = "") -> None:
    """What the person does on the dev phone: answer, decline, hang up, press a key."""
    event_id = call.call_id
    with transaction.atomic():
        call = DevCall.objects.select_for_update().get(pk=call.pk)
        if call.state == "ended":
            return
        if action == "answer" and call.state == "ringing":
            call.state = "answered"
            call.save(update_fields=["state"])
            call_event(CallEvent(event_id, CallEventKind.ANSWERED))
        elif action == "decline" and call.state == "ringing":
            _end(call, "")
            call_event(CallEvent(event_id, CallEventKind.ENDED, reason="no-answer"))
        elif action == "hangup":
            _end(call, "")
            call_event(CallEvent(event_id, CallEventKind.ENDED, reason="completed"))
        elif action == "key" and call.state == "answered" and len(key) == 1 and key in KEYS:
            typed = (call.keys + key)[-8:]
            if key != FINISH:
                call.keys = typed
                call.save(update_fields=["keys"])
                return
            call.keys = ""
            call.save(update_fields=["keys"])
            _hear(call, call_event(CallEvent(event_id, CallEventKind.KEYS, keys=typed)))
            if call.state == "ended":
                call_event(CallEvent(event_id, CallEventKind.ENDED, reason="completed"))


def new_call_id() -> str:
    return str(uuid.uuid4())
