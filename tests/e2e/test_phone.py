"""Phone methods in the browser: the wizard's Phone step by text and by call, and sign-in by
text and by call, with the dev phone open in a second page (read the text, press #)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import ALICE, BrowserProblems, sign_in
from tests.helpers import code_for
from vahva.clock import FakeClock
from vahva.methods import service

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NUMBER = "+358441234521"
WAIT = 20_000  # ms: the waiting page polls every 2 s of real time


def dev_phone(context: BrowserContext, base_url: str) -> Page:
    phone = context.new_page()
    phone.goto(f"{base_url}/dev/phone/{NUMBER}/")
    return phone


def read_code(phone: Page) -> str:
    phone.reload()
    message = phone.locator("#texts .text").first
    expect(message).to_contain_text("sign-in code")
    found = re.search(r"\b(\d{6})\b", message.inner_text())
    assert found
    return found.group(1)


def press(phone: Page, *keys: str) -> None:
    phone.reload()
    expect(phone.locator("#call-say")).to_contain_text("hash key")
    phone.get_by_role("button", name="Answer", exact=True).click()
    for key in keys:
        phone.get_by_role("button", name=key, exact=True).click()
    expect(phone.locator("#no-call")).to_be_visible()


def _to_phone_step(
    page: Page, base_url: str, alice_totp: tuple[Any, str], clock: FakeClock
) -> None:
    sign_in(page, base_url)
    page.get_by_label("Code").fill(code_for(alice_totp[1], clock))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    page.goto(base_url + "/security-info/setup/")
    # The Phone step opens on the number page, with the step's one sentence.
    expect(page.locator("#wizard-progress")).to_have_text("Method 2 of 2: Phone")
    expect(page.get_by_text("Add a phone too, for the day the app is not at hand")).to_be_visible()
    expect(page.get_by_text("What phone number would you like to use?")).to_be_visible()
    expect(page.get_by_label("Country or region")).to_have_value("FI")
    expect(page.get_by_text("Message and data rates may apply.")).to_be_visible()


def test_wizard_text_me_a_code(
    live_server: Any,
    page: Page,
    context: BrowserContext,
    clock: FakeClock,
    alice_totp: tuple[Any, str],
    problems: BrowserProblems,
    shot: Callable[[Page, str], Any],
) -> None:
    _to_phone_step(page, live_server.url, alice_totp, clock)
    page.get_by_label("Phone number").fill("044 1234521")
    page.get_by_label("Text me a code").check()
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#sent")).to_contain_text("We just sent a 6 digit code to +358 44 1234521")
    shot(page, "phone-sms-sent")
    code = read_code(dev_phone(context, live_server.url))
    page.get_by_label("Code", exact=True).fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("SMS verified successfully")).to_be_visible()
    expect(page.get_by_role("heading", name="Success!")).to_be_visible()
    page.get_by_role("link", name="Done").click()
    expect(page.locator("#methods")).to_contain_text("Text a code to +358 44 *** **21")
    problems.assert_none()


def test_wizard_call_me(
    live_server: Any,
    page: Page,
    context: BrowserContext,
    clock: FakeClock,
    alice_totp: tuple[Any, str],
    problems: BrowserProblems,
) -> None:
    _to_phone_step(page, live_server.url, alice_totp, clock)
    page.get_by_label("Phone number").fill("+358441234521")
    page.get_by_label("Call me").check()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("We're calling +358 44 1234521 now.")).to_be_visible()
    press(dev_phone(context, live_server.url), "#")
    # The page continues by itself.
    expect(page.get_by_role("heading", name="Success!")).to_be_visible(timeout=WAIT)
    expect(page.get_by_text("Call answered")).to_be_visible()
    problems.assert_none()


def test_wizard_call_reported_then_try_again(
    live_server: Any,
    page: Page,
    context: BrowserContext,
    clock: FakeClock,
    alice_totp: tuple[Any, str],
    settings: Any,
    problems: BrowserProblems,
) -> None:
    _to_phone_step(page, live_server.url, alice_totp, clock)
    page.get_by_label("Phone number").fill("044 1234521")
    page.get_by_label("Call me").check()
    page.get_by_role("button", name="Next").click()
    phone = dev_phone(context, live_server.url)
    phone.reload()
    phone.get_by_role("button", name="Don't answer").click()
    expect(page.get_by_text("The call was not answered.")).to_be_visible(timeout=WAIT)
    clock.advance(31)
    page.get_by_role("button", name="Call again").click()
    press(phone, "#")
    expect(page.get_by_role("heading", name="Success!")).to_be_visible(timeout=WAIT)
    problems.assert_none()


def test_sign_in_by_text(
    live_server: Any,
    page: Page,
    context: BrowserContext,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    alice = make_user(email=ALICE)
    service.save_new(alice, "sms", now=clock() - dt.timedelta(hours=3), data={"number": NUMBER})
    sign_in(page, live_server.url)
    expect(page.locator("#sent")).to_have_text(
        "We texted your phone +358 44 *** **21. Enter the code."
    )
    page.get_by_label("Code").fill(read_code(dev_phone(context, live_server.url)))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    problems.assert_none()


def test_sign_in_by_call(
    live_server: Any,
    page: Page,
    context: BrowserContext,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    alice = make_user(email=ALICE)
    service.save_new(alice, "voice", now=clock() - dt.timedelta(hours=3), data={"number": NUMBER})
    sign_in(page, live_server.url)
    expect(
        page.get_by_text("We're calling your phone +358 44 *** **21. Answer it to continue.")
    ).to_be_visible()
    press(dev_phone(context, live_server.url), "#")
    expect(page.get_by_role("heading", name="Security info")).to_be_visible(timeout=WAIT)
    problems.assert_none()


def test_security_info_switch_to_calls_then_change_number(
    live_server: Any,
    page: Page,
    context: BrowserContext,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    alice = make_user(email=ALICE)
    service.save_new(
        alice, "sms", now=clock() - dt.timedelta(hours=3), name="Mobile", data={"number": NUMBER}
    )
    sign_in(page, live_server.url)
    page.get_by_label("Code").fill(read_code(dev_phone(context, live_server.url)))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    page.get_by_role("button", name="Use calls instead").click()
    expect(page.locator("#methods")).to_contain_text("Call +358 44 *** **21 (Mobile)")
    page.get_by_role("link", name="Change number").click()
    expect(page.get_by_text("What phone number would you like to use?")).to_be_visible()
    expect(page.get_by_label("Call me")).to_be_checked()
    page.get_by_label("Phone number").fill("044 1234522")
    page.get_by_label("Text me a code").check()
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#sent")).to_contain_text("+358 44 1234522")
    new_phone = context.new_page()
    new_phone.goto(f"{live_server.url}/dev/phone/+358441234522/")
    page.get_by_label("Code", exact=True).fill(read_code(new_phone))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("Your phone number was changed")).to_be_visible()
    methods = page.locator("#methods")
    expect(methods).to_contain_text("Text a code to +358 44 *** **22 (Mobile)")
    expect(methods).not_to_contain_text("**21")
    expect(methods.locator(".badge")).to_have_text("Default")
    problems.assert_none()
