"""Alice's first day: sign in, set up an authenticator app from the QR code, sign in with it.

The QR code is read from a screenshot by zbarimg and the codes come from oathtool, so the
test trusts nothing vahva says about itself: only what Alice sees and what her app computes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    ALICE,
    PASSWORD,
    BrowserProblems,
    decode_qr,
    oathtool,
    parse_otpauth,
    sign_in,
)
from vahva.clock import FakeClock
from vahva.registration import wizard

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STEP = dt.timedelta(seconds=30)


def _wrong_code(*valid: str) -> str:
    """A well-formed code that is none of ``valid`` (the codes of the accepted window)."""
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def test_alice_sets_up_an_authenticator_app_and_signs_in_with_it(
    live_server: Any,
    page: Page,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    shot: Callable[[Page, str], Path],
) -> None:
    make_user(email=ALICE, full_name="Alice Aalto")

    # 1. Password, then the setup wizard.
    sign_in(page, live_server.url)
    expect(page.get_by_role("heading", name="Keep your account secure")).to_be_visible()
    expect(page.locator("#wizard-progress")).to_have_text(f"Method 1 of {len(wizard.steps())}: App")
    shot(page, "story-1-wizard")
    page.get_by_role("link", name="I want to use a different authenticator app").click()
    expect(page.get_by_role("heading", name="Authenticator app")).to_be_visible()

    # Her phone scans the QR code: an otpauth URI naming the organisation and her address.
    account = parse_otpauth(decode_qr(page, "story-2-qr"))
    assert account.issuer == "Demo University"
    assert account.label == f"Demo University:{ALICE}"
    # The key under "Can't scan the code?" is the same one, for typing by hand.
    page.get_by_text("Can't scan the code?").click()
    expect(page.locator("#secret")).to_have_text(re.compile(r"^[A-Z2-7 ]+$"))
    assert page.locator("#secret").inner_text().replace(" ", "") == account.secret

    enrolment_code = oathtool(account.secret, clock())
    page.get_by_label("Enter the 6-digit code shown in the app").fill(enrolment_code)
    page.get_by_label("Name (optional)").fill("My phone")
    page.get_by_role("button", name="Next").click()

    # The wizard's second step, the phone; Alice leaves it for later.
    expect(page.get_by_text("Method 2 of 2: Phone")).to_be_visible()
    page.get_by_role("button", name="Skip setup").click()
    expect(page.get_by_role("heading", name="Success!")).to_be_visible()
    expect(page.get_by_text("Default sign-in method:")).to_contain_text(
        "Authenticator app code (My phone)"
    )
    page.get_by_role("link", name="Done").click()

    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    methods = page.locator("#methods tbody tr")
    expect(methods).to_have_count(1)
    expect(methods.first).to_contain_text("Authenticator app code (My phone)")
    expect(methods.first).to_contain_text("Default")
    signins = page.locator("#signins tbody tr")
    expect(signins.filter(has_text="Signed in")).to_have_count(1)
    shot(page, "story-3-security-info")

    # 2. Sign out, and in again: now the app's code is asked for.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()
    page.get_by_role("link", name="Sign in again").click()
    page.get_by_label("E-mail address").fill(ALICE)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Verify your identity")).to_be_visible()
    expect(page.get_by_text("Enter the code from your authenticator app")).to_be_visible()
    shot(page, "story-4-code")

    code = page.get_by_label("Code", exact=True)
    verify = page.get_by_role("button", name="Verify")
    window = [oathtool(account.secret, clock() + n * STEP) for n in (-1, 0, 1)]
    code.fill(_wrong_code(*window))
    verify.click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")

    # The code that proved the enrolment is still inside the time window, but it was used.
    code.fill(enrolment_code)
    verify.click()
    expect(page.get_by_role("alert")).to_contain_text("already been used")

    clock.advance(STEP.total_seconds())
    fresh = oathtool(account.secret, clock())
    assert fresh != enrolment_code
    code.fill(fresh)
    verify.click()

    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    expect(signins.filter(has_text="Signed in")).to_have_count(2)
    expect(signins.filter(has_text="Wrong code")).to_have_count(2)
    expect(
        signins.filter(has_text="Signed in").filter(has_text="Authenticator app code")
    ).to_have_count(1)
    shot(page, "story-5-signed-in")

    problems.assert_none(expected_status_at={"/signin/verify/": 400})
