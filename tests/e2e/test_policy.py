"""The policy as people meet it in the browser: MFA on campus and outside, the activation
delay after registering, "Don't ask again on this device", and the registration campaign.

The client address is set the way a real deployment learns it: the test's browser sends
``X-Forwarded-For`` and the live server's peer (127.0.0.1) is configured as the trusted proxy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import dateformat, timezone
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ALICE, BrowserProblems, oathtool, sign_in
from vahva.clock import FakeClock
from vahva.methods import service
from vahva.methods.totp import generate_secret

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CAMPUS = "130.233.1.7"
OUTSIDE = "198.51.100.7"


@pytest.fixture
def campus_policy(settings: Any) -> None:
    settings.VAHVA = {
        **settings.VAHVA,
        "TRUSTED_NETWORKS": {"Campus": ["130.233.0.0/16", "2001:708::/32"], "VPN": ["10.8.0.0/16"]},
        "TRUSTED_PROXIES": ["127.0.0.1", "::1"],
        "ACTIVATION_DELAY": 7200,
    }


def _from(page: Page, address: str) -> None:
    page.set_extra_http_headers({"X-Forwarded-For": address})


def _sign_out(page: Page, base: str) -> None:
    page.goto(base + "/signout/")
    page.locator("#main").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()


def _verify_heading(page: Page) -> Any:
    return page.get_by_role("heading", name="Verify your identity")


def test_campus_skips_mfa_outside_asks_after_the_activation_delay(
    campus_policy: None,
    live_server: Any,
    page: Page,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    make_user(email=ALICE)
    base = live_server.url
    _from(page, OUTSIDE)
    sign_in(page, base)
    # Alice registers an authenticator app from home.
    page.get_by_role("link", name="I want to use a different authenticator app").click()
    page.get_by_text("Can't scan the code?").click()
    secret = page.locator("#secret").inner_text().replace(" ", "")
    page.get_by_label("Enter the 6-digit code shown in the app").fill(oathtool(secret, clock()))
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Skip setup").click()
    page.get_by_role("link", name="Done").click()
    # Security info says from when the second factor will be asked.
    start = timezone.localtime(clock() + dt.timedelta(hours=2))
    expect(page.locator("#enforced-from")).to_have_text(
        f"Multi-factor sign-in will be required from {dateformat.format(start, 'j.n.Y H:i')}."
    )

    # Within the two hours: the password is enough, even from outside.
    _sign_out(page, base)
    sign_in(page, base)
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()

    # After them, outside: asked for the code.
    _sign_out(page, base)
    clock.advance(2 * 3600 + 60)
    sign_in(page, base)
    expect(_verify_heading(page)).to_be_visible()
    page.get_by_label("Code", exact=True).fill(oathtool(secret, clock()))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    expect(page.locator("#enforced-from")).to_have_count(0)

    # On campus (and over IPv6 from the campus block): no second step.
    for address in (CAMPUS, "2001:708:10::5"):
        _sign_out(page, base)
        _from(page, address)
        sign_in(page, base)
        expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    problems.assert_none()


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(
    settings: Any,
    live_server: Any,
    page: Page,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    # The campus is trusted, but no proxy is: the header is the client's own claim.
    settings.VAHVA = {**settings.VAHVA, "TRUSTED_NETWORKS": {"Campus": ["130.233.0.0/16"]}}
    alice = make_user(email=ALICE)
    service.save_new(alice, "totp", now=clock() - dt.timedelta(days=1), secret=generate_secret())
    _from(page, CAMPUS)
    sign_in(page, live_server.url)
    expect(_verify_heading(page)).to_be_visible()
    problems.assert_none()


def test_dont_ask_again_on_this_device_then_forget_it(
    settings: Any,
    live_server: Any,
    page: Page,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    settings.VAHVA = {**settings.VAHVA, "REMEMBER_DEVICE_DAYS": 14}
    alice = make_user(email=ALICE)
    secret = generate_secret()
    service.save_new(alice, "totp", now=clock() - dt.timedelta(days=1), secret=secret, name="P")
    base = live_server.url

    sign_in(page, base)
    page.get_by_label("Code", exact=True).fill(oathtool(secret, clock()))
    page.get_by_label("Don't ask again on this device for 14 days").check()
    page.get_by_role("button", name="Verify").click()
    remembered = page.locator("#remembered")
    expect(remembered).to_contain_text("This browser")
    until = timezone.localtime(clock() + dt.timedelta(days=14))
    expect(remembered).to_contain_text(dateformat.format(until, "j.n.Y H:i"))

    # Next time the password is enough on this browser.
    _sign_out(page, base)
    sign_in(page, base)
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()

    # Forgotten: asked again.
    page.get_by_role("button", name="Forget Chrome on Linux").click()
    expect(page.get_by_text("That browser will ask for a second factor again.")).to_be_visible()
    expect(page.locator("#remembered")).to_have_count(0)
    _sign_out(page, base)
    clock.advance(30)
    sign_in(page, base)
    expect(_verify_heading(page)).to_be_visible()
    problems.assert_none()


def test_registration_campaign_not_now_then_required(
    settings: Any,
    live_server: Any,
    page: Page,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    settings.VAHVA = {
        **settings.VAHVA,
        "REGISTRATION_SNOOZE_DAYS": 3,
        "REGISTRATION_MAX_SNOOZES": 1,
    }
    make_user(email=ALICE)
    base = live_server.url
    sign_in(page, base)
    expect(page.get_by_role("heading", name="Keep your account secure")).to_be_visible()
    expect(page.get_by_text("You can put this off 1 more time.")).to_be_visible()
    page.get_by_role("button", name="Not now (ask me again in 3 days)").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()

    # Within the three days she is not asked.
    _sign_out(page, base)
    sign_in(page, base)
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()

    # Then she is, and may not put it off again, nor go around the wizard.
    _sign_out(page, base)
    clock.advance(3 * 86400 + 60)
    sign_in(page, base)
    expect(page.get_by_role("heading", name="Keep your account secure")).to_be_visible()
    expect(page.get_by_role("button", name="Not now", exact=False)).to_have_count(0)
    expect(page.locator("#must-register")).to_be_visible()
    page.goto(base + "/o/authorize/?client_id=mail")
    expect(page.get_by_role("heading", name="Keep your account secure")).to_be_visible()
    problems.assert_none()
