"""Recovery codes in the browser: shown once (copy, download, print), each signs in once,
new ones replace the old set, and a used-up set says so."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import BrowserProblems, oathtool, sign_in
from vahva.clock import FakeClock
from vahva.methods.recovery_codes.models import RecoveryCode

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CODE = re.compile(r"^(?:[0-9A-HJKMNP-TV-Z]{5}-){4}[0-9A-HJKMNP-TV-Z]{5}$")


def _sign_out(page: Page) -> None:
    page.locator("header").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()


def _codes_on(page: Page) -> list[str]:
    # The click that brought this page returns before the page is drawn: wait for the list.
    expect(page.locator("#recovery-codes code")).to_have_count(10)
    codes = [c.strip() for c in page.locator("#recovery-codes code").all_inner_texts()]
    assert len(codes) == 10, codes
    assert all(CODE.match(c) for c in codes), codes
    return codes


def _recovery_sign_in(page: Page, base: str, code: str) -> None:
    sign_in(page, base)
    expect(page.get_by_text("Enter the code from your authenticator app")).to_be_visible()
    page.get_by_role("link", name="Sign in another way").click()
    page.locator("ul.choices").get_by_role("link", name=re.compile("Recovery codes")).click()
    page.get_by_label("Recovery code").fill(code)
    page.get_by_role("button", name="Verify").click()


def _forget(problems: BrowserProblems, status: int) -> None:
    """Chromium logs each 4xx the test provoked; drop those of ``status`` (they were meant)."""
    for entry in [e for e in problems.console if f"status of {status} " in e[0]]:
        problems.console.remove(entry)


def test_recovery_codes_one_use_each_regeneration_and_exhaustion(
    live_server: Any,
    page: Page,
    clock: FakeClock,
    alice_totp: tuple[Any, str],
    problems: BrowserProblems,
    shot: Callable[[Page, str], Path],
) -> None:
    base = live_server.url
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    _method, secret = alice_totp
    sign_in(page, base)
    page.get_by_label("Code", exact=True).fill(oathtool(secret, clock()))
    page.get_by_role("button", name="Verify").click()

    # 1. Make them: ten codes, to copy, download and print, shown this once.
    page.get_by_role("link", name="Make recovery codes").click()
    codes = _codes_on(page)
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_text("Copied.")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert all(code in copied for code in codes)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as a text file").click()
    assert download.value.suggested_filename == "recovery-codes.txt"
    saved = Path(download.value.path()).read_text(encoding="utf-8")
    assert saved.startswith("Demo University recovery codes for alice@example.org")
    assert all(code in saved for code in codes)
    shot(page, "recovery-1-codes")
    page.get_by_label("Type one of the codes, to show that you saved them").fill(codes[0])
    page.get_by_role("button", name="I saved them").click()
    expect(page.locator("#recovery-left")).to_have_text("10 of 10 recovery codes left.")
    expect(page.locator("#main")).not_to_contain_text(codes[1])
    _sign_out(page)

    # 2. Each code signs in once, and is then shown as used.
    clock.advance(60)
    _recovery_sign_in(page, base, codes[1].lower().replace("-", " "))
    expect(page.get_by_text("You used a recovery code. 9 codes are left.")).to_be_visible()
    expect(page.locator("#recovery-left")).to_have_text("9 of 10 recovery codes left.")
    expect(page.locator("#recovery-uses tbody tr")).to_have_count(1)
    shot(page, "recovery-2-used")
    _sign_out(page)
    _recovery_sign_in(page, base, codes[1])
    expect(page.get_by_role("alert")).to_contain_text("That recovery code was already used")
    page.get_by_label("Recovery code").fill(codes[2])
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#recovery-left")).to_have_text("8 of 10 recovery codes left.")

    # 3. New codes replace the whole set once confirmed.
    page.get_by_role("link", name="Make new codes").last.click()
    expect(page.locator("#replacing")).to_contain_text("(8 left)")
    new = _codes_on(page)
    assert not set(new) & set(codes)
    page.get_by_label("Type one of the codes, to show that you saved them").fill(new[0])
    page.get_by_role("button", name="I saved them").click()
    expect(page.locator("#recovery-left")).to_have_text("10 of 10 recovery codes left.")
    _sign_out(page)
    _recovery_sign_in(page, base, codes[3])
    expect(page.get_by_role("alert")).to_contain_text("That recovery code is not right")
    page.get_by_label("Recovery code").fill(new[4])
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#recovery-left")).to_have_text("9 of 10 recovery codes left.")
    _sign_out(page)

    # 4. Used up: said before anyone types a code.
    RecoveryCode.objects.update(used_at=clock())
    sign_in(page, base)
    page.get_by_role("link", name="Sign in another way").click()
    page.locator("ul.choices").get_by_role("link", name=re.compile("Recovery codes")).click()
    expect(page.get_by_role("alert")).to_contain_text("You have used all your recovery codes")
    expect(page.get_by_label("Recovery code")).to_have_count(0)
    shot(page, "recovery-3-used-up")

    for status in (400, 410):
        _forget(problems, status)
    problems.assert_none()
