"""Signing in without a mouse, and every form field named for a screen reader."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    ALICE,
    PASSWORD,
    BrowserProblems,
    assert_every_control_labelled,
    oathtool,
    sign_in,
)
from vahva.clock import FakeClock
from vahva.methods import service
from vahva.methods.totp import generate_secret

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_sign_in_with_the_keyboard_only(
    live_server: Any,
    page: Page,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    alice = make_user(email=ALICE)
    secret = generate_secret()
    service.save_new(alice, "totp", now=clock() - dt.timedelta(hours=1), secret=secret)

    page.goto(live_server.url + "/signin/")
    email = page.get_by_label("E-mail address")
    expect(email).to_be_focused()  # the page opens ready for typing
    page.keyboard.type(ALICE)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Verify your identity")).to_be_visible()
    expect(page.get_by_label("Code", exact=True)).to_be_focused()
    assert_every_control_labelled(page)
    page.keyboard.type(oathtool(secret, clock()))
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    expect(page.get_by_label("Default sign-in method")).to_be_visible()
    assert_every_control_labelled(page)
    problems.assert_none()


def test_skip_link_reaches_the_form_from_the_top_of_the_page(
    live_server: Any, page: Page, problems: BrowserProblems
) -> None:
    page.goto(live_server.url + "/help/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # visible while it has the focus
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    problems.assert_none()


def test_every_field_has_a_label(
    live_server: Any,
    page: Page,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    make_user(email=ALICE)
    page.goto(live_server.url + "/signin/")
    assert_every_control_labelled(page)
    expect(page.get_by_label("Language")).to_be_visible()

    sign_in(page, live_server.url)
    page.get_by_role("link", name="I want to use a different authenticator app").click()
    expect(page.get_by_label("Enter the 6-digit code shown in the app")).to_be_visible()
    expect(page.get_by_label("Name (optional)")).to_be_visible()
    assert_every_control_labelled(page)

    page.goto(live_server.url + "/security-info/setup/choose/")
    expect(page.get_by_label("Which method would you like to add?")).to_be_visible()
    assert_every_control_labelled(page)
    problems.assert_none()
