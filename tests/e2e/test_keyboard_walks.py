"""The wizard and the vahva app with the keyboard only: Tab, Shift+Tab, Enter and Space, no
clicks. On each page the focus reaches every control in order, visibly and uncovered (WCAG 2.2
AA 2.1.1, 2.4.3, 2.4.7, 2.4.11); then the page's task is done from the keyboard.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import ALICE, PASSWORD, BrowserProblems
from tests.e2e.keyboard import assert_tab_order, tab_to
from tests.e2e.test_phone import dev_phone, read_code
from tests.e2e.test_push_app import (  # noqa: F401 (fixtures)
    WAIT,
    Phone,
    phones,
    public_url,
    shown_number,
)
from vahva.clock import FakeClock
from vahva.methods.models import RegisteredMethod

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _sign_in_by_keyboard(page: Page, base: str) -> None:
    page.goto(base + "/signin/")
    expect(page.get_by_label("E-mail address")).to_be_focused()
    page.keyboard.type(ALICE)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")


def _answer_by_keyboard(phone: Phone, number: str | None, button: str, title: str) -> Any:
    """Answer the waiting request on the phone: Tab to the number, type it, Tab to the
    button and press it (Enter on Approve, Space on the others: both must work)."""
    card = phone.request(title)
    if number is not None:
        label = (
            "Number shown on your computer"
            if title == "Test request"
            else "Number shown where you are signing in"
        )
        tab_to(phone.page, card.get_by_label(label))
        phone.page.keyboard.type(number)
    tab_to(phone.page, card.get_by_role("button", name=button, exact=True))
    phone.page.keyboard.press("Enter" if button == "Approve" else "Space")
    return card


def test_the_wizard_with_the_keyboard_only(
    live_server: Any,
    page: Page,
    context: BrowserContext,
    phones: Callable[..., Phone],  # noqa: F811
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    make_user(email=ALICE)
    base = live_server.url
    _sign_in_by_keyboard(page, base)

    # The App step: every control in order, then "Can't scan the code?" opened with Enter.
    expect(page.locator("#wizard-progress")).to_have_text("Method 1 of 2: App")
    assert_tab_order(page, "app step")
    tab_to(page, page.get_by_text("Can't scan the code?"))
    page.keyboard.press("Enter")
    link = page.locator("#enrol-link")
    expect(link).to_be_visible()
    assert_tab_order(page, "app step, link shown")

    # The phone, by keyboard as well: its enrolment page, then the test request.
    phone = phones()
    phone.page.goto(link.inner_text().strip())
    expect(
        phone.page.get_by_role("heading", name="Add your account to the vahva app")
    ).to_be_visible()
    assert_tab_order(phone.page, "app enrolment")
    tab_to(phone.page, phone.page.get_by_label("Name of this device"))
    phone.page.keyboard.press("ControlOrMeta+A")
    phone.page.keyboard.type("Alice's phone")
    phone.page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Let's try it out")).to_be_visible(timeout=WAIT)
    card = _answer_by_keyboard(phone, shown_number(page), "Approve", "Test request")
    expect(card.get_by_text("Approved", exact=True)).to_be_visible(timeout=WAIT)

    # The Phone step: the number, "Text me a code" chosen with Space, Next with Enter.
    expect(page.locator("#wizard-progress")).to_have_text("Method 2 of 2: Phone", timeout=WAIT)
    assert_tab_order(page, "phone number")
    tab_to(page, page.get_by_label("Phone number"))
    page.keyboard.type("044 1234521")
    tab_to(page, page.get_by_label("Text me a code"))
    page.keyboard.press("Space")
    expect(page.get_by_label("Text me a code")).to_be_checked()
    tab_to(page, page.get_by_role("button", name="Next"))
    page.keyboard.press("Enter")

    expect(page.locator("#sent")).to_contain_text("+358 44 1234521")
    assert_tab_order(page, "code")
    code = read_code(dev_phone(context, base))
    tab_to(page, page.get_by_label("Code", exact=True))
    page.keyboard.type(code)
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Success!")).to_be_visible()
    assert_tab_order(page, "success")
    tab_to(page, page.get_by_role("link", name="Done"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    assert RegisteredMethod.objects.filter(user__email=ALICE).count() == 2
    problems.assert_none()


def test_the_vahva_app_with_the_keyboard_only(
    live_server: Any,
    page: Page,
    phones: Callable[..., Phone],  # noqa: F811
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    mailoutbox: Any,
) -> None:
    from tests.e2e.test_push_app import expect_push_page, signed_in_with_an_app

    make_user(email=ALICE)
    base = live_server.url
    phone = phones()
    signed_in_with_an_app(page, phone, base)  # set up (not the walk under test)

    # Approve, from the keyboard.
    _sign_in_by_keyboard(page, base)
    number = expect_push_page(page)
    phone.request()
    assert_tab_order(phone.page, "app with a request")
    card = _answer_by_keyboard(phone, number, "Approve", "Sign-in request")
    expect(card.get_by_text("Approved", exact=True)).to_be_visible(timeout=WAIT)
    expect(page.get_by_role("heading", name="Security info")).to_be_visible(timeout=WAIT)
    tab_to(page, page.get_by_role("button", name="Sign out"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()

    # Deny; then, from the computer's keyboard, another request; Deny and report.
    _sign_in_by_keyboard(page, base)
    expect_push_page(page)
    card = _answer_by_keyboard(phone, None, "Deny", "Sign-in request")
    expect(card.get_by_text("Denied. Nobody was signed in.")).to_be_visible(timeout=WAIT)
    expect(page.get_by_text("Request denied")).to_be_visible(timeout=WAIT)
    assert_tab_order(page, "request denied")
    tab_to(page, page.get_by_role("link", name="Send another request").first)
    page.keyboard.press("Enter")
    expect_push_page(page)
    card = _answer_by_keyboard(phone, None, "Deny and report", "Sign-in request")
    expect(card.get_by_text("Denied and reported.", exact=False)).to_be_visible(timeout=WAIT)
    expect(page.get_by_text("You reported this request as not yours")).to_be_visible(timeout=WAIT)
    assert [m.to for m in mailoutbox] == [["helpdesk@demo.example"]]

    # The app's offline code, typed on the computer (the waiting page offers it).
    offline = phone.page.get_by_label("Code for signing in without a connection")
    expect(offline).to_have_text(re.compile(r"^\d{6}$"))
    assert_tab_order(phone.page, "app after the answers")
    assert_tab_order(page, "after deny and report")
    reveal = page.get_by_text(re.compile("code shown in the app", re.I))
    tab_to(page, reveal)
    page.keyboard.press("Enter")
    field = page.get_by_label("Code", exact=True)
    tab_to(page, field)
    page.keyboard.type(offline.inner_text())
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Security info")).to_be_visible(timeout=WAIT)
    problems.assert_none()


@pytest.mark.parametrize(
    ("html", "found"),
    [
        ("<button>b</button><input aria-label=c>", ""),
        (
            "<style>button:focus{outline:none}</style><button>b</button><input aria-label=c>",
            "no visible focus",
        ),
        ('<button tabindex="3">b</button><input aria-label=c>', "'0', '2'"),
        ('<button>b</button><div style="position:fixed;inset:0;background:#fff"></div>', "hidden"),
    ],
)
def test_the_checks_find_what_they_look_for(page: Page, html: str, found: str) -> None:
    """The walk's own checks fail where a page gets it wrong: no focus outline, a tabindex
    that jumps the order, a control under an overlay."""
    page.set_content(f'<style>:focus-visible{{outline:3px solid}}</style><a href="#">a</a>{html}')
    if not found:
        assert_tab_order(page, "good")
        return
    with pytest.raises(AssertionError, match=re.escape(found)):
        assert_tab_order(page, "bad")
