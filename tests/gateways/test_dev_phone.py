"""The dev phone pages: an inbox and a call with a keypad, and 404 outside development."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.methods.phone_helpers import NUMBER
from vahva.gateways import base as gateways
from vahva.gateways.models import DevCall, DevText

PAGE = f"/dev/phone/{NUMBER}/"


@pytest.fixture
def texted(db: Any, clock: Any) -> None:
    gateways.get().send_sms(NUMBER, "123456 is your code")


def test_the_dev_phone_lists_numbers_and_shows_the_inbox(client: Client, texted: None) -> None:
    listing = client.get("/dev/phone/")
    assert listing.status_code == 200
    assert NUMBER in listing.content.decode()
    page = client.get(PAGE).content.decode()
    assert "123456 is your code" in page


def test_the_keypad_answers_and_presses(client: Client, db: Any, clock: Any) -> None:
    gateways.get().start_call(gateways.Call(NUMBER, "c0ffee00-0000-4000-8000-000000000000", "Hi"))
    page = client.get(PAGE).content.decode()
    assert "Hi" in page
    assert "Answer" in page
    assert "t answer" in page
    url = f"{PAGE}call/c0ffee00-0000-4000-8000-000000000000/"
    assert client.post(url, {"action": "answer"}).status_code == 302
    assert 'value="#"' in client.get(PAGE).content.decode()
    client.post(url, {"action": "key", "key": "0"})
    assert DevCall.objects.get().keys == "0"
    # Unknown to vahva (no PhoneCall): the call hangs up.
    client.post(url, {"action": "key", "key": "#"})
    assert DevCall.objects.get().state == "ended"
    assert client.post(url, {"action": "explode"}).status_code == 400
    assert client.post(f"{PAGE}call/nope/", {"action": "answer"}).status_code == 404


@pytest.mark.parametrize(
    ("vahva", "debug"),
    [
        ({"DEV_PHONE": False}, False),  # production settings: no dev flag, no DEBUG
        ({"DEV_PHONE": True, "PHONE_GATEWAY": "vahva.gateways.twilio.TwilioGateway"}, True),
    ],
)
def test_the_dev_phone_is_404_in_production(
    client: Client, texted: None, settings: Any, vahva: dict[str, Any], debug: bool
) -> None:
    settings.VAHVA = {**settings.VAHVA, **vahva}
    settings.DEBUG = debug
    for path in ("/dev/phone/", PAGE, f"{PAGE}call/x/"):
        response = client.get(path) if not path.endswith("x/") else client.post(path)
        assert response.status_code == 404, path
    assert "123456" not in client.get(PAGE).content.decode()
    assert DevText.objects.count() == 1


def test_debug_alone_turns_it_on(client: Client, texted: None, settings: Any) -> None:
    settings.VAHVA = {**settings.VAHVA, "DEV_PHONE": False}
    settings.DEBUG = True
    assert client.get("/dev/phone/").status_code == 200
