"""The wizard as the README walks it: the vahva app, then a phone, in at most five pages from
signing in to *Success!*; and a failed form that Back and Reload never send again.

Pages are counted as the computer's full page loads (the main frame's ``load`` events): a page
that changes in place (the test request arriving) is one page, a redirect is none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Request, expect

from tests.e2e.conftest import ALICE, BrowserProblems, sign_in
from tests.e2e.test_phone import dev_phone, read_code
from tests.e2e.test_push_app import (  # noqa: F401 (fixtures)
    WAIT,
    Phone,
    phones,
    public_url,
    shown_number,
)
from tests.helpers import code_for
from vahva.clock import FakeClock
from vahva.methods.models import RegisteredMethod
from vahva.methods.phone.models import PhoneSend

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

#: At most this many pages from the sign-in page to *Success!* with the app and a phone.
PAGES = 5


def _count_loads(page: Page) -> list[str]:
    """The address of every full page load of ``page`` from now on."""
    loads: list[str] = []
    page.on("load", lambda loaded: loads.append(loaded.url))
    return loads


def _navigations(page: Page) -> list[tuple[str, str]]:
    """(method, url) of every navigation of ``page``'s main frame from now on."""
    seen: list[tuple[str, str]] = []

    def on_request(request: Request) -> None:
        if request.is_navigation_request() and request.frame == page.main_frame:
            seen.append((request.method, request.url))

    page.on("request", on_request)
    return seen


def test_app_and_phone_in_five_pages(
    live_server: Any,
    page: Page,
    context: BrowserContext,
    phones: Callable[..., Phone],  # noqa: F811
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    shot: Callable[[Page, str], Any],
) -> None:
    make_user(email=ALICE)
    base = live_server.url
    loads = _count_loads(page)

    # Page 1: sign in.
    sign_in(page, base)

    # Page 2: the App step opens on the QR code, which brings the app and adds the account.
    expect(page.locator("#wizard-progress")).to_have_text("Method 1 of 2: App")
    expect(page.get_by_text("No app on your phone yet? This code brings it")).to_be_visible()
    expect(page.get_by_role("img", name="QR code for the vahva app")).to_be_visible()
    page.get_by_text("Can't scan the code?").click()
    link = page.get_by_text(re.compile(r"/app/enroll#")).inner_text().strip()
    assert link.startswith(f"{base}/app/enroll#")
    shot(page, "walk-2-app")

    # A phone without the app: the link opens the web app, which adds the account.
    phone = phones()
    phone.page.goto(link)
    expect(
        phone.page.get_by_role("heading", name="Add your account to the vahva app")
    ).to_be_visible()
    phone.page.get_by_role("button", name="Add account").click()
    expect(page.get_by_role("heading", name="Let's try it out")).to_be_visible(timeout=WAIT)
    # The number to match is shown large, to be read across the desk.
    number = shown_number(page)
    size = page.locator("#test-number").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    body = page.locator("body").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 2.5 * body, (size, body)
    shot(page, "walk-2-test-number")
    card = phone.answer(number, title="Test request")
    expect(card.get_by_text("Approved", exact=True)).to_be_visible(timeout=WAIT)

    # Page 3: the Phone step opens on the number page (the page moved on by itself).
    expect(page.locator("#wizard-progress")).to_have_text("Method 2 of 2: Phone", timeout=WAIT)
    expect(page.get_by_text("Add a phone too, for the day the app is not at hand")).to_be_visible()
    page.get_by_label("Phone number").fill("044 1234521")
    page.get_by_label("Text me a code").check()
    page.get_by_role("button", name="Next").click()

    # Page 4: the code.
    expect(page.locator("#sent")).to_contain_text("+358 44 1234521")
    messages = dev_phone(context, base)
    page.get_by_label("Code", exact=True).fill(read_code(messages))
    page.get_by_role("button", name="Verify").click()

    # Page 5: Success!
    expect(page.get_by_role("heading", name="Success!")).to_be_visible()
    expect(page.get_by_text("SMS verified successfully")).to_be_visible()
    shot(page, "walk-5-success")
    # Each page counted once: sign-in, app, number, code, Success! (no intro pages).
    assert len(loads) <= PAGES, loads
    assert loads[0] == f"{base}/" or loads[0].startswith(f"{base}/signin"), loads
    assert RegisteredMethod.objects.filter(user__email=ALICE).count() == 2
    problems.assert_none()


def test_a_wrong_code_then_reload_and_back_send_nothing_again(
    live_server: Any,
    page: Page,
    context: BrowserContext,
    clock: FakeClock,
    alice_totp: tuple[Any, str],
    problems: BrowserProblems,
) -> None:
    base = live_server.url
    sign_in(page, base)
    page.get_by_label("Code").fill(code_for(alice_totp[1], clock))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    page.goto(base + "/security-info/setup/")
    expect(page.locator("#wizard-progress")).to_have_text("Method 2 of 2: Phone")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))

    # A number that is not one: the message, and the number typed, to be corrected.
    page.get_by_label("Phone number").fill("044")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert").filter(has_text="too short")).to_have_count(1)
    expect(page.get_by_label("Phone number")).to_have_value("044")
    navigations = _navigations(page)
    page.reload()
    assert navigations == [("GET", page.url)]
    expect(page.get_by_role("alert").filter(has_text="too short")).to_have_count(1)
    assert PhoneSend.objects.count() == 0

    page.get_by_label("Phone number").fill("044 1234521")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#sent")).to_contain_text("+358 44 1234521")
    sent = PhoneSend.objects.count()
    code_page = page.url
    right = read_code(dev_phone(context, base))
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    page.get_by_label("Code", exact=True).fill(wrong)
    page.get_by_role("button", name="Verify").click()
    error = page.get_by_role("alert").filter(has_text="not right")
    expect(error).to_have_count(1)
    failed_page = page.url
    assert "failed=" in failed_page

    # Reload: a GET of the same page, the message still there once; no form sent again.
    del navigations[:]
    page.reload()
    assert navigations == [("GET", failed_page)]
    expect(error).to_have_count(1)
    expect(page.get_by_label("Code", exact=True)).to_have_value("")  # a code is never kept

    # Back: the code page as it was before the wrong code, again by GET.
    del navigations[:]
    page.go_back()
    assert navigations == [("GET", code_page)]
    expect(page.locator("#sent")).to_be_visible()
    expect(error).to_have_count(0)
    assert dialogs == []  # no "Confirm Form Resubmission", no beforeunload prompt
    assert PhoneSend.objects.count() == sent  # nothing texted again
    assert not RegisteredMethod.objects.filter(kind="sms").exists()

    page.get_by_label("Code", exact=True).fill(right)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Success!")).to_be_visible()
    problems.assert_none(
        expected_status_at={"/security-info/setup/": 400, "/security-info/setup/sms/": 400}
    )
