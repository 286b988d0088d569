"""The Twilio gateway: texts by the Messages API, calls with TwiML ``<Gather>``.

The call's TwiML goes with the call request (no page to fetch); the call's progress comes back
as status callbacks and the keys as the ``<Gather>`` action, both to :mod:`.webhooks`, which
check Twilio's request signature before believing a word.
"""

from __future__ import annotations

from typing import Any

from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from vahva.conf import settings

from .base import Call, Gateway, GatewayError

TWILIO_API = "https://api.twilio.com"
#: Keys collected per <Gather>: "#" (then a pause) or "0#". With no finishing key "#" is an
#: ordinary key, so "#" and "0#" both reach us as typed.
GATHER_DIGITS = 2
GATHER_TIMEOUT = 5
#: Seconds the phone rings before Twilio gives up ("no-answer").
RING_TIMEOUT = 30
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
#: <Say> languages for the people's languages. Twilio's voices speak Swedish as sv-SE (it has
#: no sv-FI voice); Finland's Swedish speakers understand it as well as a Finland-Swedish one.
SAY_LANGUAGES = {"en": "en-GB", "fi": "fi-FI", "sv": "sv-SE"}


class _ApiBaseHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Twilio's own HTTP client, sending to another API base (a test's loopback fake)."""

    def __init__(self, api_base: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_base = api_base.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if url.startswith(TWILIO_API):
            url = self.api_base + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


def webhook_base() -> str:
    return str(settings.TWILIO.get("webhook_base") or settings.PUBLIC_URL).rstrip("/")


def status_url(call_id: str) -> str:
    return f"{webhook_base()}/gateways/twilio/status/{call_id}"


def gather_url(call_id: str) -> str:
    return f"{webhook_base()}/gateways/twilio/gather/{call_id}"


def say_language(language: str) -> str:
    return SAY_LANGUAGES.get((language or "en")[:2], "en-GB")


def gather_twiml(say: str, *, action: str, language: str, silence: str = "") -> str:
    """TwiML that says ``say`` while listening for keys; ``silence`` if none come."""
    response = VoiceResponse()
    gather = response.gather(
        action=action,
        method="POST",
        input="dtmf",
        num_digits=GATHER_DIGITS,
        finish_on_key="",
        timeout=GATHER_TIMEOUT,
    )
    gather.say(say, language=say_language(language))
    if silence:
        response.say(silence, language=say_language(language))
    response.hangup()
    return str(response)


def goodbye_twiml(say: str, *, language: str) -> str:
    response = VoiceResponse()
    if say:
        response.say(say, language=say_language(language))
    response.hangup()
    return str(response)


def _detail(exc: Exception) -> str:
    """Twilio's error code and message (``21211: Invalid 'To' Phone Number``), or the
    network error, for the outbox row."""
    code = getattr(exc, "code", None)
    said = getattr(exc, "msg", None) or str(exc)
    return (f"{code}: {said}" if code else f"{type(exc).__name__}: {said}")[:500]


class TwilioGateway(Gateway):
    def __init__(self) -> None:
        config = dict(settings.TWILIO)
        self.sender = str(config.get("from_number", ""))
        api_base = str(config.get("api_base", ""))
        self.client = Client(
            str(config.get("account_sid", "")),
            str(config.get("auth_token", "")),
            http_client=_ApiBaseHttpClient(api_base, timeout=10) if api_base else None,
        )

    def send_sms(self, number: str, text: str) -> str:
        try:
            message = self.client.messages.create(to=number, from_=self.sender, body=text)
        except (TwilioException, OSError) as exc:
            raise GatewayError(detail=_detail(exc)) from exc
        return str(message.sid)

    def start_call(self, call: Call) -> str:
        twiml = gather_twiml(
            call.say,
            action=gather_url(call.call_id),
            language=call.language,
            silence=call.silence,
        )
        try:
            made = self.client.calls.create(
                to=call.number,
                from_=self.sender,
                twiml=twiml,
                status_callback=status_url(call.call_id),
                status_callback_event=STATUS_EVENTS,
                status_callback_method="POST",
                timeout=RING_TIMEOUT,
            )
        except (TwilioException, OSError) as exc:
            raise GatewayError(detail=_detail(exc)) from exc
        return str(made.sid)
