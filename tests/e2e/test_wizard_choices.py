"""The wizard's way out: another method, or no method for now (allowed by default)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ALICE, BrowserProblems, sign_in
from vahva.clock import FakeClock

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_alice_looks_at_other_methods_then_skips_setup(
    live_server: Any,
    page: Page,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    make_user(email=ALICE)
    sign_in(page, live_server.url)
    expect(page.get_by_role("heading", name="Keep your account secure")).to_be_visible()

    page.get_by_role("link", name="I want to set up a different method").click()
    choice = page.get_by_label("Which method would you like to add?")
    expect(choice).to_be_visible()
    expect(choice.get_by_role("option")).to_contain_text(["Authenticator app code"])
    # Still inside the wizard: the header stays.
    expect(page.get_by_role("heading", name="Keep your account secure")).to_be_visible()

    choice.select_option(label="Authenticator app code")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("heading", name="Authenticator app")).to_be_visible()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()

    page.get_by_role("link", name="Back").click()
    # Back at the App step: the vahva app's QR code, which brings the app too.
    expect(page.get_by_role("heading", name="vahva app")).to_be_visible()
    expect(page.get_by_role("img", name="QR code for the vahva app")).to_be_visible()
    expect(page.get_by_text("No app on your phone yet? This code brings it")).to_be_visible()
    page.get_by_role("button", name="Not now (ask me again in 1 day)").click()

    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    expect(page.get_by_text("You have no sign-in methods yet.")).to_be_visible()
    expect(page.get_by_role("link", name="Set one up now")).to_be_visible()
    problems.assert_none()
