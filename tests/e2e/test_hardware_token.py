"""Hardware tokens in the browser: the helpdesk hands Alice a token from stock, she activates
it on Security info with its serial number and a code it shows, signs in with it, and the
helpdesk resynchronises it and then retires it when she loses it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import BrowserProblems, sign_in
from tests.e2e.test_helpdesk import open_person
from tests.e2e.test_lost_phone import agent_signs_in, make_agent, watch
from tests.helpers import code_for
from tests.methods.token_helpers import hotp_code, stock_token
from vahva.clock import FakeClock
from vahva.methods.hardware_token import oath
from vahva.methods.hardware_token.models import HardwareToken, State

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _sign_out(page: Page) -> None:
    page.locator("header").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()


def test_a_token_from_the_helpdesk_to_a_sign_in_and_back(
    live_server: Any,
    page: Page,
    browser: Browser,
    clock: FakeClock,
    alice_totp: tuple[Any, str],
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    shot: Callable[[Page, str], Path],
) -> None:
    base = live_server.url
    _method, secret = alice_totp
    token = stock_token("VT-0042", digits=8)

    # 1. The agent gives Alice the token: only she can activate it now.
    agent_secret = make_agent(make_user, clock)
    desk_context = browser.new_context()
    watch(desk_context, problems)
    desk = desk_context.new_page()
    agent_signs_in(desk, base, agent_secret, clock)
    open_person(desk, base, "alice@", "Alice")
    tokens_card = desk.locator("#hardware-tokens")
    expect(tokens_card.get_by_role("heading", name="Hardware tokens")).to_be_visible()
    reserve = desk.locator("#token-reserve")
    reserve.get_by_label("Ticket").fill("HD-42")
    reserve.get_by_label("Serial number").fill("VT-0042")
    reserve.get_by_role("button", name="Reserve token").click()
    expect(desk.get_by_text("Token VT-0042 is reserved for this person")).to_be_visible()
    expect(desk.locator("#token-list")).to_contain_text("Reserved, not activated yet")

    # 2. Alice activates it on Security info: the serial, then the code it shows.
    sign_in(page, base)
    page.get_by_label("Code", exact=True).fill(code_for(secret, clock))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    page.get_by_role("link", name="Add method").click()
    page.get_by_label("Which method would you like to add?").select_option(label="Hardware token")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("heading", name="Hardware token", level=1)).to_be_visible()
    page.get_by_label("Serial number").fill("VT-0042")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#serial")).to_contain_text("8-digit code")
    page.get_by_label("Code", exact=True).fill(
        "12345678" if hotp_code(token, 0) != "12345678" else "1"
    )
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("alert")).to_contain_text("not right")
    page.get_by_label("Code", exact=True).fill(hotp_code(token, 0))
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("Hardware token (VT-0042) was added.")).to_be_visible()
    shot(page, "token-1-added")

    # 3. She signs in with it ("Sign in another way": her default is still the app).
    _sign_out(page)
    sign_in(page, base)
    page.get_by_role("link", name="Sign in another way").click()
    page.get_by_role("link", name=re.compile(r"Hardware token \(VT-0042\)")).click()
    expect(page.get_by_text("Press the button on your token")).to_be_visible()
    page.get_by_label("Code", exact=True).fill(hotp_code(token, 1))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()

    # 4. The token was pressed far too often in a pocket: the agent resyncs it.
    far = 2 + oath.LOOK_AHEAD + 30
    desk.reload()
    resync = desk.locator("#token-resync")
    resync.get_by_label("Ticket").fill("HD-43")
    resync.get_by_label("Serial number").fill("VT-0042")
    resync.get_by_label("First code").fill(hotp_code(token, far))
    resync.get_by_label("Next code").fill(hotp_code(token, far + 1))
    resync.get_by_role("button", name="Resynchronise").click()
    expect(desk.get_by_text("Token VT-0042 is in step again.")).to_be_visible()

    # 5. Lost: the agent retires it; her Security info no longer lists it.
    release = desk.locator("#token-release")
    release.get_by_label("Ticket").fill("HD-44")
    release.get_by_label("Serial number").fill("VT-0042")
    release.get_by_label("Lost or broken: retire it for good").check()
    release.get_by_role("button", name="Take back").click()
    expect(desk.get_by_text("Token VT-0042 is retired")).to_be_visible()
    assert HardwareToken.objects.get().state == State.RETIRED
    page.goto(base + "/security-info/")
    expect(page.locator("#methods")).not_to_contain_text("Hardware token")
    problems.assert_none(expected_status_at={"/security-info/add/hardware_token/": 400})
