"""The Twilio gateway: the real `twilio` client against a fake API on loopback, the TwiML it
produces, and its webhooks (signed, unsigned, forged, for unknown calls)."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
import xml.etree.ElementTree as ET  # parses only TwiML vahva itself produced
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from tests.gateways.fake_twilio import FakeTwilio, fake_twilio
from tests.methods.phone_helpers import NUMBER
from vahva.errors import VahvaError
from vahva.gateways import base as gateways
from vahva.gateways.base import GatewayError
from vahva.gateways.twilio import TwilioGateway, gather_twiml
from vahva.methods import registry
from vahva.methods.base import AttemptRef
from vahva.methods.phone.models import PhoneCall

SID = "AC" + "0" * 32
TOKEN = "test-auth-token"
BASE = "https://vahva.example"


@pytest.fixture
def twilio(settings: Any, db: Any) -> Iterator[FakeTwilio]:
    with fake_twilio() as fake:
        settings.VAHVA = {
            **settings.VAHVA,
            "PHONE_GATEWAY": "vahva.gateways.twilio.TwilioGateway",
            "TWILIO": {
                "account_sid": SID,
                "auth_token": TOKEN,
                "from_number": "+358401112233",
                "webhook_base": BASE,
                "api_base": fake.url,
            },
        }
        yield fake


def test_sms_goes_through_the_messages_api(twilio: FakeTwilio) -> None:
    gateway = gateways.get()
    assert isinstance(gateway, TwilioGateway)
    sid = gateway.send_sms(NUMBER, "123456 is your code")
    assert sid.startswith("SM")
    path, body, auth = twilio.requests[0]
    assert path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert body == {"To": [NUMBER], "From": ["+358401112233"], "Body": ["123456 is your code"]}
    assert base64.b64decode(auth.split()[1]).decode() == f"{SID}:{TOKEN}"


def test_a_refusal_is_a_gateway_error(twilio: FakeTwilio) -> None:
    twilio.fail = True
    with pytest.raises(GatewayError) as caught:
        gateways.get().send_sms(NUMBER, "x")
    assert caught.value.status == 502


def test_calls_carry_the_gather_twiml_and_status_callbacks(twilio: FakeTwilio) -> None:
    call_id = str(uuid.uuid4())
    gateways.get().start_call(gateways.Call(NUMBER, call_id, "Press hash.", "fi", "Bye."))
    path, body, _auth = twilio.requests[0]
    assert path == f"/2010-04-01/Accounts/{SID}/Calls.json"
    assert body["To"] == [NUMBER]
    assert body["StatusCallback"] == [f"{BASE}/gateways/twilio/status/{call_id}"]
    assert set(body["StatusCallbackEvent"]) == {"initiated", "ringing", "answered", "completed"}
    gather = ET.fromstring(body["Twiml"][0]).find("Gather")  # noqa: S314
    assert gather is not None
    assert gather.get("action") == f"{BASE}/gateways/twilio/gather/{call_id}"


def test_the_twiml() -> None:
    root = ET.fromstring(  # noqa: S314
        gather_twiml("Press hash.", action="https://x/g", language="fi", silence="Nothing heard.")
    )
    gather = root.find("Gather")
    assert gather is not None
    assert gather.attrib == {
        "action": "https://x/g",
        "method": "POST",
        "input": "dtmf",
        "numDigits": "2",
        "finishOnKey": "",
        "timeout": "5",
    }
    say = gather.find("Say")
    assert say is not None
    assert say.text == "Press hash."
    assert say.get("language") == "fi-FI"
    assert [child.tag for child in root] == ["Gather", "Say", "Hangup"]


def _signed(client: Client, path: str, data: dict[str, str], token: str = TOKEN) -> Any:
    signature = RequestValidator(token).compute_signature(BASE + path, data)
    return client.post(path, data, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.fixture
def ringing(twilio: FakeTwilio, alice: Any, clock: Any) -> tuple[PhoneCall, AttemptRef]:
    from vahva.methods import service

    saved = service.save_new(
        alice, "voice", now=clock() - dt.timedelta(hours=1), data={"number": NUMBER}
    )
    attempt = AttemptRef(id=str(uuid.uuid4()), service="Mail")
    registry.get("voice").begin(saved, now=clock(), attempt=attempt)
    return PhoneCall.objects.get(), attempt


def test_signed_webhooks_drive_the_call(
    client: Client, ringing: tuple[PhoneCall, AttemptRef]
) -> None:
    call, _attempt = ringing
    status = f"/gateways/twilio/status/{call.pk}"
    assert _signed(client, status, {"CallStatus": "ringing"}).status_code == 204
    assert _signed(client, status, {"CallStatus": "in-progress"}).status_code == 204
    assert PhoneCall.objects.get().state == "answered"
    gather = f"/gateways/twilio/gather/{call.pk}"
    again = _signed(client, gather, {"Digits": "5"})
    assert ET.fromstring(again.content).find("Gather") is not None  # noqa: S314
    done = _signed(client, gather, {"Digits": "#"})
    assert done.status_code == 200
    assert done["Content-Type"].startswith("text/xml")
    root = ET.fromstring(done.content)  # noqa: S314
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert PhoneCall.objects.get().state == "approved"


def test_zero_hash_by_webhook_reports(
    client: Client, ringing: tuple[PhoneCall, AttemptRef]
) -> None:
    call, _attempt = ringing
    _signed(client, f"/gateways/twilio/status/{call.pk}", {"CallStatus": "in-progress"})
    _signed(client, f"/gateways/twilio/gather/{call.pk}", {"Digits": "0#"})
    assert PhoneCall.objects.get().state == "reported"


def test_unanswered_by_webhook(client: Client, ringing: tuple[PhoneCall, AttemptRef]) -> None:
    call, _attempt = ringing
    _signed(client, f"/gateways/twilio/status/{call.pk}", {"CallStatus": "no-answer"})
    assert PhoneCall.objects.get().state == "no_answer"


@pytest.mark.parametrize("kind", ["status", "gather"])
def test_unsigned_and_forged_webhooks_are_403(
    client: Client, ringing: tuple[PhoneCall, AttemptRef], kind: str
) -> None:
    call, _attempt = ringing
    path = f"/gateways/twilio/{kind}/{call.pk}"
    data = {"Digits": "#", "CallStatus": "in-progress"}
    assert client.post(path, data).status_code == 403
    assert _signed(client, path, data, token="not-the-token").status_code == 403
    # Signed for other parameters (a replayed signature with a "#" added).
    signature = RequestValidator(TOKEN).compute_signature(BASE + path, {"CallStatus": "ringing"})
    assert client.post(path, data, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 403
    assert PhoneCall.objects.get().state == "calling"


def test_webhooks_for_unknown_calls_are_404(client: Client, twilio: FakeTwilio) -> None:
    for call_id in (str(uuid.uuid4()), "not-a-call"):
        for kind, data in (("status", {"CallStatus": "ringing"}), ("gather", {"Digits": "#"})):
            assert _signed(client, f"/gateways/twilio/{kind}/{call_id}", data).status_code == 404


def test_webhooks_are_404_with_the_dev_gateway(client: Client, db: Any) -> None:
    path = f"/gateways/twilio/gather/{uuid.uuid4()}"
    assert _signed(client, path, {"Digits": "#"}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_failing_gateway_leaves_no_code_behind(
    twilio: FakeTwilio, alice: Any, clock: Any
) -> None:
    from vahva.gateways.models import OutboxMessage
    from vahva.methods.models import PendingEnrolment
    from vahva.methods.phone.models import PhoneCode, PhoneSend

    twilio.fail = True
    method = registry.get("sms")
    pending = method.start_enrolment(alice, now=clock())
    with pytest.raises(VahvaError) as caught:
        method.enrolment_action(
            pending, "send", {"number": "044 1234521", "delivery": "sms"}, now=clock(), ip=None
        )
    assert caught.value.status == 502
    assert len(twilio.requests) == 1  # asked once, after the commit
    # The provider's own words are kept on the outbox row; nothing else is left.
    row = OutboxMessage.objects.get()
    assert (row.state, row.payload) == ("failed", "")
    assert "21211" in row.error
    assert "Invalid 'To' Phone Number" in row.error
    assert not PhoneCode.objects.exists()
    assert not PhoneSend.objects.exists()
    assert PendingEnrolment.objects.get().data == {}


@pytest.mark.django_db(transaction=True)
def test_a_sign_in_call_reaches_twilio_after_the_commit(
    twilio: FakeTwilio, alice: Any, clock: Any
) -> None:
    from vahva.methods import service

    saved = service.save_new(
        alice, "voice", now=clock() - dt.timedelta(hours=1), data={"number": NUMBER}
    )
    registry.get("voice").begin(saved, now=clock(), attempt=AttemptRef(id=str(uuid.uuid4())))
    call = PhoneCall.objects.get()
    (request,) = twilio.requests
    path, body, _auth = request
    assert path.endswith("/Calls.json")
    assert body["StatusCallback"] == [f"{BASE}/gateways/twilio/status/{call.pk}"]
    # Its status callbacks find the committed call.
    client = Client()
    assert (
        _signed(client, f"/gateways/twilio/status/{call.pk}", {"CallStatus": "ringing"}).status_code
        == 204
    )
    assert PhoneCall.objects.get().state == "ringing"
