"""Passwords in the browser: change it from Security info, and "Forgot your password?" from
the sign-in page with a link by e-mail and the authenticator app."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ALICE, PASSWORD, BrowserProblems, oathtool, sign_in
from vahva.clock import FakeClock
from vahva.registration import passwords

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NEW = "Copper Willow Harbour 19"
STEP = 30


def _code_step(page: Page, secret: str, clock: FakeClock, button: str) -> None:
    expect(page.get_by_text("Enter the code from your authenticator app")).to_be_visible()
    page.get_by_label("Code", exact=True).fill(oathtool(secret, clock()))
    page.get_by_role("button", name=button).click()


def test_change_password_from_security_info(
    live_server: Any,
    page: Page,
    clock: FakeClock,
    alice_totp: tuple[Any, str],
    problems: BrowserProblems,
    shot: Callable[[Page, str], Path],
) -> None:
    base = live_server.url
    _method, secret = alice_totp
    sign_in(page, base)
    _code_step(page, secret, clock, "Verify")
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    page.get_by_role("link", name="Change password").first.click()
    expect(page.get_by_role("heading", name="Change password")).to_be_visible()
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("New password again").fill(NEW)
    shot(page, "password-change")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    page.get_by_role("button", name="Sign out everywhere else").click()
    expect(page.locator("#signed-out")).to_be_visible()
    passwords.wait_for_mail()
    assert [m.to for m in mail.outbox] == [[ALICE]]
    # Signed out, in again with the new password.
    page.locator("header").get_by_role("button", name="Sign out").click()
    clock.advance(STEP)
    sign_in(page, base, password=NEW)
    _code_step(page, secret, clock, "Verify")
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    problems.assert_none()


def test_forgot_password_link_code_and_new_password(
    live_server: Any,
    page: Page,
    clock: FakeClock,
    alice_totp: tuple[Any, str],
    problems: BrowserProblems,
    shot: Callable[[Page, str], Path],
) -> None:
    base = live_server.url
    _method, secret = alice_totp
    page.goto(base + "/signin/")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    page.get_by_label("E-mail address").fill(ALICE)
    page.get_by_role("button", name="Send link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    passwords.wait_for_mail()
    (message,) = mail.outbox
    link = re.search(r"https?://\S+/password/reset/\S+/", message.body)
    assert link is not None
    # The mail's link is built from PUBLIC_URL; the test server has its own port.
    page.goto(base + re.sub(r"^https?://[^/]+", "", link.group(0)))
    _code_step(page, secret, clock, "Continue")
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("New password again").fill(NEW)
    shot(page, "password-reset-new")
    page.get_by_role("button", name="Save new password").click()
    expect(page.locator("#reset-done")).to_be_visible()
    page.get_by_role("link", name="Sign in").last.click()
    clock.advance(STEP)
    sign_in(page, base, password=NEW)
    _code_step(page, secret, clock, "Verify")
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    problems.assert_none()
