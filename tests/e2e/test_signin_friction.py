"""Friction at sign-in (issue #19), walked in the browser: what the waiting page says after
"Deny and report" (item 4), and the verify page when the person's text limit is reached
(item 6), each time with what the person can do now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import ALICE, BrowserProblems, sign_in
from tests.e2e.test_phone import NUMBER, dev_phone, press, read_code
from tests.e2e.test_push_app import (
    WAIT,
    Phone,
    expect_push_page,
    phones,  # noqa: F401  (the fixture)
    public_url,  # noqa: F401  (the fixture)
    signed_in_with_an_app,
)
from tests.helpers import code_for
from vahva.clock import FakeClock
from vahva.methods import service
from vahva.methods.phone.models import PhoneSend
from vahva.methods.totp import generate_secret

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_after_deny_and_report_the_page_offers_what_is_possible_now(
    live_server: Any,
    page: Page,
    phones: Callable[..., Phone],  # noqa: F811
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    """Someone with Alice's password signs in; Alice answers "Deny and report" on her phone.
    The waiting page ends there: no "Send another request", and the other ways it offers
    leave out the app, whose requests are paused now."""
    alice = make_user(email=ALICE)
    phone = phones()
    signed_in_with_an_app(page, phone, live_server.url)
    secret = generate_secret()
    service.save_new(alice, "totp", now=clock() - dt.timedelta(hours=3), secret=secret)

    sign_in(page, live_server.url)
    expect_push_page(page)
    card = phone.answer(None, "Deny and report")
    expect(card.get_by_text("Denied and reported.", exact=False)).to_be_visible(timeout=WAIT)

    reported = page.locator("#push-reported")
    expect(reported.get_by_text("You reported this request as not yours")).to_be_visible(
        timeout=WAIT
    )
    expect(page.get_by_role("link", name="Send another request")).to_be_hidden()
    expect(page.get_by_text("Waiting for your answer…")).to_be_hidden()
    ways = reported.locator("#ways-now").get_by_role("link")
    expect(ways).to_have_count(1)
    expect(ways.first).to_contain_text("Authenticator app code")
    # The page's own "Sign in another way" link gives way to the list above.
    expect(page.get_by_role("link", name="Sign in another way")).to_be_hidden()

    # "Sign in another way", reached from anywhere, no longer lists the paused app either.
    page.goto(live_server.url + "/signin/other/")
    choices = page.locator("ul.choices a")
    expect(choices).to_have_count(1)
    expect(choices.first).to_contain_text("Authenticator app code")
    expect(page.get_by_text("vahva app")).to_have_count(0)

    # Alice herself can still sign in with what is left.
    choices.first.click()
    page.get_by_label("Code").fill(code_for(secret, clock))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    problems.assert_none()


def test_after_deny_and_report_with_nothing_else_the_page_names_the_helpdesk(
    live_server: Any,
    page: Page,
    phones: Callable[..., Phone],  # noqa: F811
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    make_user(email=ALICE)
    phone = phones()
    signed_in_with_an_app(page, phone, live_server.url)
    sign_in(page, live_server.url)
    expect_push_page(page)
    phone.answer(None, "Deny and report")
    reported = page.locator("#push-reported")
    expect(
        reported.get_by_text("You have no other way to sign in now.", exact=False)
    ).to_be_visible(timeout=WAIT)
    expect(reported.get_by_role("link", name="How to reach the helpdesk")).to_be_visible()
    expect(page.get_by_role("link", name="Send another request")).to_be_hidden()
    problems.assert_none()


def _sends(user: Any, now: dt.datetime, count: int, *, enrolment: bool) -> None:
    """``count`` texts to Alice's number in the last hour, as the limits count them."""
    PhoneSend.objects.bulk_create(
        PhoneSend(
            at=now - dt.timedelta(minutes=30),
            user=user,
            number=NUMBER,
            country="FI",
            ip="192.0.2.1",
            channel="sms",
            enrolment=enrolment,
        )
        for _ in range(count)
    )


def test_text_limit_reached_says_until_when_and_offers_the_other_ways(
    live_server: Any,
    page: Page,
    context: BrowserContext,
    settings: Any,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    settings.VAHVA = {**settings.VAHVA, "PHONE_LIMITS": {"person": 2, "number": 10}}
    alice = make_user(email=ALICE)
    service.save_new(alice, "sms", now=clock() - dt.timedelta(hours=3), data={"number": NUMBER})
    secret = generate_secret()
    service.save_new(alice, "totp", now=clock() - dt.timedelta(hours=3), secret=secret)

    # Registering her number took two texts this hour: they do not count against signing in.
    _sends(alice, clock(), 2, enrolment=True)
    sign_in(page, live_server.url)
    expect(page.locator("#sent")).to_have_text(
        "We texted your phone +358 44 *** **21. Enter the code."
    )
    assert read_code(dev_phone(context, live_server.url))

    # Two sign-in texts this hour already (the one above and one more): the limit is reached.
    _sends(alice, clock(), 1, enrolment=False)
    context.clear_cookies()
    sign_in(page, live_server.url)
    notice = page.locator("#limit-reached")
    expect(notice.get_by_role("heading")).to_have_text(
        "You have reached the limit of texts and calls"
    )
    until = timezone.localtime(clock() + dt.timedelta(minutes=30)).strftime("%H:%M")
    expect(notice).to_contain_text(f"We can't text or call you again before {until}.")
    # No field for a code that never came, and no "Verify" that would say so only afterwards.
    expect(page.get_by_label("Code")).to_have_count(0)
    expect(page.get_by_role("button", name="Verify")).to_have_count(0)
    ways = page.locator("#ways-now").get_by_role("link")
    expect(ways).to_have_count(1)
    expect(ways.first).to_contain_text("Authenticator app code")
    ways.first.click()
    page.get_by_label("Code").fill(code_for(secret, clock))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    problems.assert_none(expected_status_at={"/signin/verify/": 429})


def test_a_number_registered_for_texts_can_be_called_and_the_other_way_round(
    live_server: Any,
    page: Page,
    context: BrowserContext,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    """Item 5: one number, both ways, as "Sign in another way" choices."""
    alice = make_user(email=ALICE)
    service.save_new(alice, "sms", now=clock() - dt.timedelta(hours=3), data={"number": NUMBER})
    bob = make_user(email="bob@example.org", full_name="Bob")
    service.save_new(bob, "voice", now=clock() - dt.timedelta(hours=3), data={"number": NUMBER})

    # Alice's number takes texts; she has no phone signal for texts today: "Call me".
    sign_in(page, live_server.url)
    expect(page.locator("#sent")).to_contain_text("We texted your phone")
    page.get_by_role("link", name="Sign in another way").click()
    choices = page.locator("ul.choices a")
    expect(choices).to_have_count(2)
    expect(choices.nth(0)).to_contain_text("Text a code to +358 44 *** **21")
    expect(choices.nth(1)).to_contain_text("Call +358 44 *** **21")
    choices.nth(1).click()
    expect(
        page.get_by_text("We're calling your phone +358 44 *** **21. Answer it to continue.")
    ).to_be_visible()
    press(dev_phone(context, live_server.url), "#")
    expect(page.get_by_role("heading", name="Security info")).to_be_visible(timeout=WAIT)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()

    # Bob's number takes calls; he is in a meeting: "Text me".
    sign_in(page, live_server.url, email="bob@example.org")
    expect(page.get_by_text("We're calling your phone", exact=False)).to_be_visible()
    page.get_by_role("link", name="Sign in another way").click()
    page.locator("ul.choices a", has_text="Text a code to +358 44 *** **21").click()
    expect(page.locator("#sent")).to_have_text(
        "We texted your phone +358 44 *** **21. Enter the code."
    )
    page.get_by_label("Code").fill(read_code(dev_phone(context, live_server.url)))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    problems.assert_none()
