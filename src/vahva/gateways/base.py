"""The gateway interface, the configured gateway, and the door for call events.

A gateway sends a text, starts a call that says a text and listens for keys, and reports the
call's progress (ringing, answered, keys pressed, ended) as :class:`CallEvent`. What an event
means (approve, report, try again) is the methods room's decision: it installs a handler with
:func:`set_call_handler`, and the gateway turns the handler's :class:`CallReply` into what
the phone hears next.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from vahva.conf import settings
from vahva.errors import VahvaError


class GatewayError(VahvaError):
    """The phone service could not be reached or refused the message."""

    status = 502
    default_message = _("We could not reach the phone service. Try again in a moment.")

    def __init__(self, message: str | Promise | None = None, *, detail: str = "") -> None:
        super().__init__(message)
        #: The provider's own words (for the outbox row and the logs, not for the person).
        self.detail = detail


class CallEventKind(enum.StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"
    #: Keys pressed, ending with the finishing key (for example "#" or "0#").
    KEYS = "keys"
    #: The call ended; ``reason`` says how ("completed", "no-answer", "busy", "failed").
    ENDED = "ended"


@dataclass(frozen=True)
class CallEvent:
    call_id: str
    kind: CallEventKind
    keys: str = ""
    reason: str = ""


class CallReply(enum.StrEnum):
    """What the call should do after an event, as the methods room decided."""

    UNKNOWN = "unknown"  # no such call (or long over): refuse the webhook
    CONTINUE = "continue"  # nothing to say; carry on
    APPROVED = "approved"  # thank and hang up
    REPORTED = "reported"  # acknowledge the report and hang up
    AGAIN = "again"  # a key that means nothing: ask once more
    GOODBYE = "goodbye"  # too many wrong keys, or the call is over: hang up


@dataclass(frozen=True)
class Answer:
    """The handler's reply to an event, and what the phone says with it (the prompt again
    for AGAIN, a last sentence before hanging up otherwise)."""

    reply: CallReply
    say: str = ""
    language: str = "en"


@dataclass(frozen=True)
class Call:
    """A call to make: whom, our id for it, what to say and in which language."""

    number: str
    call_id: str
    say: str
    language: str = "en"
    #: Said when no key was pressed in time, before hanging up.
    silence: str = ""


class Gateway(ABC):
    #: Whether /dev/phone shows this gateway's texts and calls.
    dev_phone: bool = False

    @abstractmethod
    def send_sms(self, number: str, text: str) -> str:
        """Send ``text`` to ``number`` (E.164); return the provider's message id.

        Raises GatewayError when the provider refuses or cannot be reached.
        """

    @abstractmethod
    def start_call(self, call: Call) -> str:
        """Ring ``call.number`` and say ``call.say``, listening for keys; return the
        provider's call id. Progress arrives later through :func:`call_event`."""


_gateway: Gateway | None = None
_gateway_path = ""
CallHandler = Callable[[CallEvent], Answer]
_handler: CallHandler | None = None


def get() -> Gateway:
    """The configured gateway (VAHVA["PHONE_GATEWAY"]), made once per configuration."""
    global _gateway, _gateway_path
    # Made again when the configuration changes (a test pointing Twilio elsewhere).
    path = f"{settings.PHONE_GATEWAY}|{sorted(dict(settings.TWILIO).items())}"
    if _gateway is None or path != _gateway_path:
        _gateway = import_string(str(settings.PHONE_GATEWAY))()
        _gateway_path = path
    return _gateway


def gateway_for(path: str) -> Gateway:
    """The gateway an outbox message was written for: the configured one, or (after a change
    of configuration) the one its dotted path names."""
    if path == str(settings.PHONE_GATEWAY):
        return get()
    gateway = import_string(path)()
    assert isinstance(gateway, Gateway)
    return gateway


def set_call_handler(handler: CallHandler) -> None:
    global _handler
    _handler = handler


def call_event(event: CallEvent) -> Answer:
    """Tell the methods room what happened on a call; returns what the call does next."""
    if _handler is None:
        return Answer(CallReply.UNKNOWN)
    return _handler(event)
