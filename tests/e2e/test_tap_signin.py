"""Alice lost her phone: the helpdesk gives her a temporary access pass, and she signs in with
her password and the pass instead of the authenticator app on the lost phone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from tests.e2e.conftest import BrowserProblems, oathtool, sign_in
from vahva.clock import FakeClock
from vahva.methods import tap

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EXPIRED = (
    "This temporary access pass has expired or was already used. Ask the helpdesk for a new one."
)


def _watch(context: BrowserContext, problems: BrowserProblems) -> None:
    """Console errors and uncaught exceptions of another browser count as the test's too."""

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.console.append((message.text, str(message.location.get("url", ""))))

    context.on("console", on_console)
    context.on("weberror", lambda error: problems.exceptions.append(str(error.error)))


def _type_pass(page: Page, code: str) -> None:
    page.get_by_label("Temporary access pass", exact=True).fill(code)
    page.get_by_role("button", name="Verify").click()


def _wrong(code: str) -> str:
    return next(c for c in ("2222-2222-2222", "3333-3333-3333") if c != code)


def test_a_one_time_pass_signs_alice_in_once(
    live_server: Any,
    page: Page,
    browser: Browser,
    clock: FakeClock,
    alice_totp: tuple[Any, str],
    problems: BrowserProblems,
    shot: Callable[[Page, str], Path],
) -> None:
    alice = alice_totp[0].user
    _registered, code = tap.issue(alice, now=clock(), ticket="HD-123")

    # Her default is the app on the lost phone; the sign-in asks for the pass at once.
    sign_in(page, live_server.url)
    expect(page.get_by_role("heading", name="Verify your identity")).to_be_visible()
    expect(
        page.get_by_text("Enter the temporary access pass the helpdesk gave you")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Sign in another way")).to_be_visible()
    shot(page, "tap-1-asked")

    # Someone who overheard the pass has reached the same page on another computer.
    other = browser.new_context()
    _watch(other, problems)
    intruder = other.new_page()
    sign_in(intruder, live_server.url)
    expect(intruder.get_by_label("Temporary access pass", exact=True)).to_be_visible()

    _type_pass(page, _wrong(code))
    expect(page.get_by_role("alert")).to_contain_text("That temporary access pass is not right")
    expect(page.get_by_label("Temporary access pass", exact=True)).to_have_value("")

    # Read out on the phone, typed in small letters without the dashes.
    _type_pass(page, code.lower().replace("-", ""))
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    expect(page.locator("#methods tbody tr")).to_have_count(1)  # the pass is not a method
    expect(page.locator("#signins")).to_contain_text("Temporary access pass")
    shot(page, "tap-2-signed-in")

    # The pass was for one sign-in: the second is refused, and says why.
    _type_pass(intruder, code)
    expect(intruder.get_by_role("alert")).to_have_text(EXPIRED)
    expect(intruder.get_by_role("heading", name="Security info")).to_have_count(0)
    shot(intruder, "tap-3-used")
    other.close()
    # Chromium logs the refusal's 410 on the other computer: it must be there, and only it.
    refused = [entry for entry in problems.console if "status of 410 " in entry[0]]
    assert refused, problems.console
    for entry in refused:
        problems.console.remove(entry)

    problems.assert_none(expected_status_at={"/signin/verify/": 400})


def test_an_expired_pass_is_refused_and_the_other_methods_remain(
    live_server: Any,
    page: Page,
    clock: FakeClock,
    alice_totp: tuple[Any, str],
    problems: BrowserProblems,
) -> None:
    alice = alice_totp[0].user
    _registered, code = tap.issue(alice, now=clock(), ticket="HD-124", lifetime=300, one_time=False)
    sign_in(page, live_server.url)
    expect(
        page.get_by_text("Enter the temporary access pass the helpdesk gave you")
    ).to_be_visible()

    clock.advance(300)  # she took a coffee break longer than the pass lasts
    _type_pass(page, code)
    expect(page.get_by_role("alert")).to_have_text(EXPIRED)

    # Found the phone after all: sign in another way, with the app.
    page.get_by_role("link", name="Sign in another way").click()
    choices = page.locator("ul.choices li")
    expect(choices).to_have_count(1)
    choices.get_by_role("link", name="Authenticator app code").click()
    page.get_by_label("Code", exact=True).fill(oathtool(alice_totp[1], clock()))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()

    problems.assert_none(expected_status_at={"/signin/verify/": 410})
