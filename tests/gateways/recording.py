"""A phone gateway and a mail backend that remember what they were asked, and whether a
database transaction was open when they were (none ever should be: DESIGN.md §3)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from django.db import connection

from vahva.gateways.base import Call, Gateway, GatewayError

PATH = "tests.gateways.recording.RecordingGateway"
MAIL = "tests.gateways.recording.RecordingMail"


@dataclass(frozen=True)
class Seen:
    what: str  # "sms", "call" or "mail"
    to: str
    body: str
    #: connection.in_atomic_block while the provider was being asked.
    in_transaction: bool
    #: For calls: whether vahva's PhoneCall row was already committed (its callbacks work).
    call_row_committed: bool = False


class RecordingGateway(Gateway):
    seen: ClassVar[list[Seen]] = []
    lock: ClassVar[threading.Lock] = threading.Lock()
    #: The provider's refusal to answer with (None: it accepts).
    refuse: ClassVar[str | None] = None

    @classmethod
    def reset(cls) -> None:
        with cls.lock:
            cls.seen = []
            cls.refuse = None

    def _record(self, seen: Seen) -> str:
        with self.lock:
            self.seen.append(seen)
            count = len(self.seen)
        if self.refuse is not None:
            raise GatewayError(detail=self.refuse)
        return f"fake-{count}"

    def send_sms(self, number: str, text: str) -> str:
        return self._record(Seen("sms", number, text, connection.in_atomic_block))

    def start_call(self, call: Call) -> str:
        from vahva.methods.phone.models import PhoneCall

        committed = PhoneCall.objects.filter(pk=call.call_id).exists()
        return self._record(
            Seen("call", call.number, call.say, connection.in_atomic_block, committed)
        )


class RecordingMail(BaseEmailBackend):
    seen: ClassVar[list[Seen]] = []

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            RecordingGateway.lock.acquire()
            try:
                self.seen.append(
                    Seen("mail", ",".join(message.to), message.body, connection.in_atomic_block)
                )
            finally:
                RecordingGateway.lock.release()
        return len(email_messages)


def texts() -> list[Seen]:
    return [s for s in RecordingGateway.seen if s.what == "sms"]


def calls() -> list[Seen]:
    return [s for s in RecordingGateway.seen if s.what == "call"]


def use(settings: Any) -> None:
    """Point VAHVA["PHONE_GATEWAY"] and the mail backend at the recorders (empty)."""
    RecordingGateway.reset()
    RecordingMail.seen = []
    settings.VAHVA = {**settings.VAHVA, "PHONE_GATEWAY": PATH}
    settings.EMAIL_BACKEND = MAIL
