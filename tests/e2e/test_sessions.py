"""Alice is signed in on two browsers; from the first she sees both on Security info and signs
the second out, whose next page asks her to sign in again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from tests.e2e.conftest import BrowserProblems, oathtool, sign_in
from tests.sessions.conftest import FIREFOX_WINDOWS
from vahva.clock import FakeClock

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STEP = 30  # a TOTP step: the same code is never accepted twice


def _watch(context: BrowserContext, problems: BrowserProblems) -> None:
    """Console errors and uncaught exceptions of the other browser count as the test's too."""

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.console.append((message.text, str(message.location.get("url", ""))))

    context.on("console", on_console)
    context.on("weberror", lambda error: problems.exceptions.append(str(error.error)))


def _sign_in_with_code(page: Page, base: str, secret: str, clock: FakeClock) -> None:
    sign_in(page, base)
    page.get_by_label("Code", exact=True).fill(oathtool(secret, clock()))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()


def test_alice_signs_her_other_browser_out(
    live_server: Any,
    page: Page,
    browser: Browser,
    clock: FakeClock,
    alice_totp: tuple[Any, str],
    problems: BrowserProblems,
    shot: Callable[[Page, str], Path],
) -> None:
    base = live_server.url
    _method, secret = alice_totp
    _sign_in_with_code(page, base, secret, clock)

    other_context = browser.new_context(user_agent=FIREFOX_WINDOWS)
    _watch(other_context, problems)
    other = other_context.new_page()
    clock.advance(STEP)
    _sign_in_with_code(other, base, secret, clock)

    page.reload()
    sessions = page.locator("#sessions")
    expect(sessions.get_by_role("heading", name="Where you're signed in")).to_be_visible()
    this_row = sessions.locator("tr", has_text="This browser")
    expect(this_row).to_contain_text("Chrome on Linux")
    other_row = sessions.locator("tr", has_text="Firefox on Windows")
    expect(other_row).to_contain_text("127.0.0.1")
    # This browser has the normal sign-out (a link), the other a button of its own.
    expect(this_row.get_by_role("button", name="Sign out")).to_have_count(0)
    expect(sessions.get_by_role("button", name="Sign out everywhere else")).to_be_visible()
    shot(page, "sessions-two-browsers")

    other_row.get_by_role("button", name="Sign out Firefox on Windows").click()
    expect(page.get_by_text("Firefox on Windows was signed out.")).to_be_visible()
    expect(page.locator("#sessions tr", has_text="Firefox on Windows")).to_have_count(0)

    # The other browser's next page asks to sign in again, and says why.
    other.goto(base + "/security-info/")
    expect(other.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(other.get_by_text("This browser was signed out from another browser.")).to_be_visible()
    shot(other, "sessions-signed-out-elsewhere")

    # The first browser is still signed in.
    page.goto(base + "/security-info/")
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    other_context.close()
    problems.assert_none()
