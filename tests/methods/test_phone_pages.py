"""The phone pages through HTTP: the wizard's Phone step, Text me a code / Call me, the
sign-in pages, and bad input answered with a 4xx and a message."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.helpers import sign_in_password, text
from tests.methods.phone_helpers import NUMBER, answer_and_press, last_code, texts
from vahva.methods.models import RegisteredMethod
from vahva.methods.phone.models import PhoneCall

SMS = "/security-info/setup/sms/"
VOICE = "/security-info/setup/voice/"


@pytest.fixture
def signed_in(alice: Any, client: Client, clock: Any) -> Client:
    assert sign_in_password(client)["Location"] == "/security-info/setup/start/"
    return client


def _number(client: Client, url: str = SMS, **data: str) -> Any:
    """Send the number form; a failure is shown by the page's GET (post/redirect/get)."""
    client.get(url)
    form = {"action": "send", "country": "FI", "number": "044 1234521", "delivery": "sms"}
    posted = client.post(url, {**form, **data})
    return client.get(posted["Location"]) if posted.status_code == 303 else posted


def test_wizard_text_me_a_code(signed_in: Client, clock: Any) -> None:
    page = text(signed_in.get(SMS))
    assert "What phone number would you like to use?" in page
    assert "Finland (+358)" in page
    assert "Message and data rates may apply." in page
    assert _number(signed_in)["Location"] == SMS
    assert "We just sent a 6 digit code to <strong>+358 44 1234521</strong>" in text(
        signed_in.get(SMS)
    )
    wrong = signed_in.post(SMS, {"code": "12345x"}, follow=True)
    assert wrong.status_code == 400
    assert not RegisteredMethod.objects.exists()
    done = signed_in.post(SMS, {"code": last_code()})
    assert done["Location"] == "/security-info/setup/"
    assert "SMS verified successfully" in text(signed_in.get("/security-info/setup/done/"))
    method = RegisteredMethod.objects.get()
    assert (method.kind, method.data["number"]) == ("sms", NUMBER)


def test_double_click_sends_once_and_resend_says_when(signed_in: Client, clock: Any) -> None:
    _number(signed_in)
    _number(signed_in)
    assert texts() == 1
    early = signed_in.post(SMS, {"action": "resend"}, follow=True)
    assert early.status_code == 429
    assert early["Retry-After"] == "30"
    assert "in 30 seconds" in text(early)
    clock.advance(30)
    assert signed_in.post(SMS, {"action": "resend"}).status_code == 302
    assert texts() == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"number": "abc"}, "only digits"),
        ({"number": "044"}, "too short"),
        ({"number": "0700 123456"}, "premium-rate"),
        ({"country": "ZZ"}, "Choose a country"),
        ({"delivery": "pigeon"}, "Text me a code"),
    ],
)
def test_bad_numbers_are_4xx_with_a_message(
    signed_in: Client, data: dict[str, str], message: str
) -> None:
    response = _number(signed_in, **data)
    assert response.status_code == 400
    assert message in text(response)
    assert texts() == 0
    assert not RegisteredMethod.objects.exists()


def test_wizard_call_me(signed_in: Client, clock: Any) -> None:
    assert _number(signed_in, delivery="voice")["Location"] == VOICE
    assert "We're calling <strong>+358 44 1234521</strong> now" in text(signed_in.get(VOICE))
    status = "/security-info/setup/voice/status/"
    assert signed_in.get(status).json()["state"] == "calling"
    answer_and_press("#")
    answer = signed_in.get(status).json()
    assert answer["state"] == "approved"
    finished = signed_in.post(VOICE, {"code": answer["response"]})
    assert finished.status_code == 302, text(finished)[-3000:]
    assert finished["Location"] == "/security-info/setup/"
    assert RegisteredMethod.objects.get().kind == "voice"
    # A double submit carries on.
    assert signed_in.post(VOICE, {"code": answer["response"]}).status_code == 302


def test_sign_in_by_text(alice: Any, client: Client, clock: Any) -> None:
    from vahva.methods import service

    service.save_new(alice, "sms", now=clock(), data={"number": NUMBER})
    clock.advance(3600)
    assert sign_in_password(client)["Location"] == "/signin/verify/"
    page = text(client.get("/signin/verify/"))
    assert "We texted your phone +358 44 *** **21. Enter the code." in page
    client.get("/signin/verify/")  # a reload texts nothing more
    assert texts() == 1
    assert client.post("/signin/verify/", {"code": "abcdef"}).status_code == 400
    assert client.post("/signin/verify/", {"code": last_code()})["Location"] == "/security-info/"


def test_sign_in_by_call(alice: Any, client: Client, clock: Any) -> None:
    from vahva.methods import service

    service.save_new(alice, "voice", now=clock(), data={"number": NUMBER})
    clock.advance(3600)
    sign_in_password(client)
    assert "We're calling your phone +358 44 *** **21" in text(client.get("/signin/verify/"))
    assert client.get("/signin/verify/status/").json()["state"] == "pending"
    # Posting before # is pressed does nothing.
    assert client.post("/signin/verify/").status_code == 400
    answer_and_press("#")
    assert client.get("/signin/verify/status/").json()["state"] == "approved"
    assert client.post("/signin/verify/")["Location"] == "/security-info/"
    assert PhoneCall.objects.get().state == "used"


@pytest.mark.django_db(transaction=True)
def test_a_refused_text_is_a_clear_502_and_nothing_is_half_saved(
    signed_in: Client, clock: Any, settings: Any
) -> None:
    from tests.gateways import recording
    from tests.gateways.recording import RecordingGateway

    recording.use(settings)
    RecordingGateway.refuse = "21211: Invalid 'To' Phone Number"
    refused = _number(signed_in)
    assert refused.status_code == 502
    assert "We could not reach the phone service. Try again in a moment." in text(refused)
    # The page still asks for the number (no "we sent a code"), and it can be sent at once.
    again = text(signed_in.get(SMS))
    assert "What phone number would you like to use?" in again
    assert "We just sent" not in again
    RecordingGateway.refuse = None
    assert _number(signed_in)["Location"] == SMS
    assert len(recording.texts()) == 2
    assert "We just sent a 6 digit code" in text(signed_in.get(SMS))


@pytest.mark.django_db(transaction=True)
def test_a_refused_sign_in_text_says_so(
    alice: Any, client: Client, clock: Any, settings: Any
) -> None:
    from tests.gateways import recording
    from tests.gateways.recording import RecordingGateway
    from vahva.methods import service

    recording.use(settings)
    service.save_new(alice, "sms", now=clock(), data={"number": NUMBER})
    clock.advance(3600)
    sign_in_password(client)
    RecordingGateway.refuse = "30003: Unreachable destination handset"
    page = client.get("/signin/verify/")
    assert page.status_code == 502
    assert "We could not reach the phone service" in text(page)
    RecordingGateway.refuse = None
    assert "We texted your phone" in text(client.get("/signin/verify/"))
    assert len(recording.texts()) == 2


# --- "Is this your number?": the organisation's number, still proved ---------------------------


def test_the_number_in_the_system_is_offered_masked_and_proved_by_a_text(
    alice: Any, signed_in: Client, clock: Any
) -> None:
    alice.mobile_in_system = "+358 44 123 4521"  # from the directory or SCIM
    alice.save()
    page = text(signed_in.get(SMS))
    assert "Is this your number?" in page
    assert '<strong id="known-number">+358 44 *** **21</strong>' in page
    assert "1234521" not in page  # the whole number is never shown to the browser
    sent = signed_in.post(SMS, {"action": "send", "known": "1", "delivery": "sms"})
    assert sent["Location"] == SMS
    assert not RegisteredMethod.objects.exists()  # offered, not trusted: proved first
    done = signed_in.post(SMS, {"code": last_code()})
    assert done["Location"] == "/security-info/setup/"
    method = RegisteredMethod.objects.get()
    assert (method.kind, method.data["number"]) == ("sms", NUMBER)
    # Registered: it is not offered again.
    from vahva.methods.phone.common import known_number

    alice.refresh_from_db()
    assert known_number(alice) == ""


def test_no_offer_without_a_usable_number_in_the_system(
    alice: Any, signed_in: Client, clock: Any
) -> None:
    for stored in ("", "not a number"):
        alice.mobile_in_system = stored
        alice.save()
        assert "Is this your number?" not in text(signed_in.get(SMS))
    # A forged "known" answer with no number in the system sends nothing.
    refused = signed_in.post(SMS, {"action": "send", "known": "1", "delivery": "sms"}, follow=True)
    assert refused.status_code == 400
    assert texts() == 0
