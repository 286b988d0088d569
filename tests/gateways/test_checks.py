"""Start-up checks of the phone gateway: a dev gateway that reaches no phone is said aloud."""

from __future__ import annotations

from typing import Any

from vahva.gateways.checks import check_phone_gateway


def ids(settings: Any, **vahva: Any) -> list[str]:
    settings.VAHVA = {**settings.VAHVA, **vahva}
    return [message.id or "" for message in check_phone_gateway()]


def test_the_dev_gateway_without_the_dev_phone_is_a_warning(settings: Any) -> None:
    settings.DEBUG = False
    assert ids(settings, DEV_PHONE=False) == ["vahva.W101"]
    # A demonstration (dev phone on) or development (DEBUG) is fine.
    assert ids(settings, DEV_PHONE=True) == []
    settings.DEBUG = True
    assert ids(settings, DEV_PHONE=False) == []


def test_a_gateway_path_that_does_not_import_is_an_error(settings: Any) -> None:
    assert ids(settings, PHONE_GATEWAY="vahva.gateways.nowhere.Gateway") == ["vahva.E101"]


def test_twilio_without_its_account_is_an_error(settings: Any) -> None:
    assert ids(settings, PHONE_GATEWAY="vahva.gateways.twilio.TwilioGateway") == ["vahva.E102"]
