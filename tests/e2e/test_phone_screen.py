"""On a small phone (360 x 740 CSS pixels) every page of the journey fits: no sideways scroll."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import (
    ALICE,
    PASSWORD,
    BrowserProblems,
    oathtool,
    page_widths,
    sign_in,
)
from vahva.clock import FakeClock
from vahva.methods import service
from vahva.methods.totp import generate_secret

WIDTH, HEIGHT = 360, 740

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser_context_args(
        viewport={"width": WIDTH, "height": HEIGHT},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    ),
]

Shot = Callable[[Page, str], Path]


def assert_fits(page: Page, primary: Locator, name: str, shot: Shot) -> None:
    """No horizontal scroll, and the page's main button is shown whole."""
    expect(primary).to_be_visible()
    shot(page, f"phone-{name}")
    scroll_width, client_width = page_widths(page)
    assert scroll_width <= client_width, (
        f"{name}: {scroll_width}px wide on a {client_width}px screen"
    )
    box = primary.bounding_box()
    assert box is not None
    assert box["x"] >= 0, f"{name}: {box}"
    assert box["x"] + box["width"] <= client_width, f"{name}: {box}"


def test_sign_in_and_setup_fit_a_phone_screen(
    live_server: Any,
    page: Page,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    shot: Shot,
) -> None:
    make_user(email=ALICE)
    page.goto(live_server.url + "/")
    assert page.viewport_size == {"width": WIDTH, "height": HEIGHT}
    sign_in_button = page.get_by_role("button", name="Sign in", exact=True)
    assert_fits(page, sign_in_button, "1-signin", shot)
    expect(sign_in_button).to_be_in_viewport()  # no scrolling down to find it either

    sign_in(page, live_server.url)
    expect(page.get_by_role("heading", name="Keep your account secure")).to_be_visible()
    # The App step opens on the vahva app's QR code.
    expect(page.get_by_role("img", name="QR code for the vahva app")).to_be_visible()
    # (Its page moves on by itself once the phone answers: no button to press.)
    assert_fits(page, page.get_by_role("img", name="QR code for the vahva app"), "2-wizard", shot)

    # The App step leads with the vahva app; Alice uses another authenticator app.
    page.get_by_role("link", name="I want to use a different authenticator app").click()
    assert_fits(page, page.get_by_role("button", name="Next"), "3-qr", shot)

    # Typing the key by hand, as on a phone that cannot scan its own screen.
    page.get_by_text("Can't scan the code?").click()
    secret = page.locator("#secret").inner_text().replace(" ", "")
    assert_fits(page, page.get_by_role("button", name="Next"), "4-key", shot)
    page.get_by_label("Enter the 6-digit code shown in the app").fill(oathtool(secret, clock()))
    page.get_by_role("button", name="Next").click()
    # Method 2 of 2: Phone, left for later.
    assert_fits(page, page.get_by_role("button", name="Next"), "5-phone-step", shot)
    page.get_by_role("button", name="Skip setup").click()
    assert_fits(page, page.get_by_role("link", name="Done"), "5-success", shot)

    page.get_by_role("button", name="Sign out").click()
    assert_fits(page, page.get_by_role("link", name="Sign in again"), "6-signed-out", shot)
    page.get_by_role("link", name="Sign in again").click()
    page.get_by_label("E-mail address").fill(ALICE)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    assert_fits(page, page.get_by_role("button", name="Verify"), "7-code", shot)
    problems.assert_none()


def test_security_info_fits_a_phone_screen(
    live_server: Any,
    page: Page,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    shot: Shot,
) -> None:
    alice = make_user(email=ALICE)
    secret = generate_secret()
    service.save_new(
        alice, "totp", now=clock() - dt.timedelta(hours=1), secret=secret, name="Work phone"
    )
    sign_in(page, live_server.url)
    page.get_by_label("Code", exact=True).fill(oathtool(secret, clock()))
    page.get_by_role("button", name="Verify").click()

    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    expect(page.locator("#methods")).to_contain_text("Authenticator app code (Work phone)")
    expect(page.locator("#signins tbody tr")).to_have_count(1)
    assert_fits(page, page.get_by_role("link", name="Add method"), "8-security-info", shot)
    problems.assert_none()
