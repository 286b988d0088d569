"""The helpdesk in the browser: verify a caller with the vahva app on their phone (number
matching, then "Deny and report"), grant an exemption (refused without a ticket), sign a
person out everywhere; and a member who opens the helpdesk is refused.

The agent, Alice's computer and Alice's phone are separate browser contexts. The phone runs
the real vahva app (the installable web app) with its clock set to the server's FakeClock.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import ALICE, BrowserProblems, oathtool, sign_in
from tests.e2e.test_lost_phone import agent_signs_in, make_agent, watch
from tests.e2e.test_push_app import PHONE, WAIT, Phone
from vahva.audit.models import AuditEvent
from vahva.authenticator.models import PushChallenge
from vahva.clock import FakeClock
from vahva.methods import app_push, registry
from vahva.methods import service as methods
from vahva.methods.totp import generate_secret
from vahva.policy.models import Exemption

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

Shot = Callable[[Page, str], Path]


@pytest.fixture
def contexts(
    browser: Browser, problems: BrowserProblems
) -> Iterator[Callable[..., BrowserContext]]:
    """More browser contexts, watched for console errors and CSP violations like the first."""
    opened: list[BrowserContext] = []

    def open_context(**options: Any) -> BrowserContext:
        context = browser.new_context(**options)
        watch(context, problems)
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()


def enrol_the_app(phone: Phone, alice: Any, clock: FakeClock) -> None:
    """Alice's phone adds her account from the QR code's link and passes its test (the
    computer's side of the enrolment is done here, as Security info would)."""
    method = registry.get("app_push")
    pending = method.start_enrolment(alice, now=clock())
    app = phone.page
    app.goto(app_push.enrolment_link(pending.secret))
    app.get_by_label("Name of this device").fill("Alice's phone")
    app.get_by_role("button", name="Add account").click()
    card = phone.request("Test request")
    test = PushChallenge.objects.get(user=alice, purpose="test")
    card.get_by_label("Number shown on your computer").fill(str(test.number))
    card.get_by_role("button", name="Approve", exact=True).click()
    expect(card.get_by_text("Approved", exact=True)).to_be_visible(timeout=WAIT)
    method.finish_enrolment(pending, test.pk.hex, now=clock())


def open_person(desk: Page, base: str, query: str, name: str) -> None:
    desk.goto(base + "/helpdesk/")
    desk.get_by_label("Name or e-mail address").fill(query)
    desk.get_by_role("button", name="Search").click()
    desk.get_by_role("link", name=name).click()
    expect(desk.get_by_role("heading", name=name, level=1)).to_be_visible()


def test_the_agent_checks_that_the_caller_is_alice(
    live_server: Any,
    page: Page,
    contexts: Callable[..., BrowserContext],
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    settings: Any,
    shot: Shot,
) -> None:
    base = live_server.url
    settings.VAHVA = {**settings.VAHVA, "PUBLIC_URL": base}
    agent_secret = make_agent(make_user, clock)
    alice = make_user(email=ALICE, full_name="Alice Aalto")
    phone_context = contexts(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    phone_context.clock.set_fixed_time(clock())
    phone = Phone(phone_context, phone_context.new_page())
    enrol_the_app(phone, alice, clock)

    # Alice calls; the agent sends a check to her app and reads the number out.
    desk = page
    agent_signs_in(desk, base, agent_secret, clock)
    open_person(desk, base, "alice@", "Alice Aalto")
    caller = desk.locator("#caller")
    caller.get_by_label("Ticket number").fill("INC-900")
    caller.get_by_role("button", name="Send a check to the app").click()
    expect(desk.get_by_role("heading", name="Verify the caller")).to_be_visible()
    number = desk.locator("#check-number").inner_text().strip()
    assert re.fullmatch(r"\d{2}", number), number

    # On the phone: not a sign-in request, and nothing about an address or a service.
    card = phone.request("The helpdesk is checking it's you")
    expect(card.get_by_text("make sure the caller is you")).to_be_visible()
    expect(card.get_by_text("IP address")).to_be_hidden()
    expect(card.get_by_text("Service", exact=True)).to_be_hidden()
    card.get_by_label("Number the helpdesk reads to you").fill(number)
    shot(phone.page, "helpdesk-1-check-on-the-phone-360")
    card.get_by_role("button", name="Approve", exact=True).click()
    expect(card.get_by_text("Approved", exact=True)).to_be_visible(timeout=WAIT)
    expect(card.get_by_text("The helpdesk now sees that it is you.")).to_be_visible()

    # The agent's page updates by itself.
    expect(desk.get_by_text("Verified: the caller approved on Alice's phone")).to_be_visible(
        timeout=WAIT
    )
    shot(desk, "helpdesk-2-verified")

    # A second call, which Alice did not make: she reports it on the phone.
    expect(desk.get_by_label("Ticket number")).to_have_value("INC-900")
    desk.get_by_role("button", name="Send another check").click()
    expect(desk.locator("#check-number")).to_be_visible()
    card = phone.request("The helpdesk is checking it's you")
    expect(card.get_by_text("someone may be calling them in your name")).to_be_visible()
    card.get_by_role("button", name="Deny and report", exact=True).click()
    expect(card.get_by_text("Reported: the caller is not you.")).to_be_visible(timeout=WAIT)
    expect(
        card.get_by_text("The helpdesk sees this, and will not act on the call.")
    ).to_be_visible()
    expect(
        desk.get_by_text("the person said they are not the one talking to the helpdesk")
    ).to_be_visible(timeout=WAIT)
    expect(desk.get_by_text("Do not act on this call")).to_be_visible()

    outcomes = list(
        AuditEvent.objects.filter(action="helpdesk.caller_check")
        .order_by("at", "id")
        .values_list("outcome", "data__state", "data__ticket")
    )
    assert outcomes == [("ok", "approved", "INC-900"), ("failure", "reported", "INC-900")]
    problems.assert_none()


def test_the_agent_grants_an_exemption_and_signs_alice_out(
    live_server: Any,
    page: Page,
    contexts: Callable[..., BrowserContext],
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    shot: Shot,
) -> None:
    base = live_server.url
    agent_secret = make_agent(make_user, clock)
    alice = make_user(email=ALICE, full_name="Alice Aalto")
    secret = generate_secret()
    methods.save_new(alice, "totp", now=clock() - dt.timedelta(days=1), secret=secret)

    # Alice is signed in on her computer; the helpdesk is not for her.
    computer = page
    sign_in(computer, base)
    computer.get_by_label("Code", exact=True).fill(oathtool(secret, clock()))
    computer.get_by_role("button", name="Verify").click()
    expect(computer.get_by_role("heading", name="Security info")).to_be_visible()
    computer.goto(base + "/helpdesk/")
    expect(computer.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(computer.get_by_text("The helpdesk tools are for helpdesk staff only.")).to_be_visible()

    desk = contexts().new_page()
    agent_signs_in(desk, base, agent_secret, clock)
    open_person(desk, base, "Aalto", "Alice Aalto")
    person_url = desk.url

    # No ticket, no exemption: the form says so and nothing is saved.
    card = desk.locator("#exemptions")
    card.get_by_label("Reason").fill("Works in a lab where phones are not allowed")
    card.get_by_label("Last day").fill("2026-03-31")
    card.get_by_role("button", name="Grant exemption").click()
    card = desk.locator("#exemptions")
    expect(card.get_by_text("Enter the helpdesk ticket number.")).to_be_visible()
    expect(desk.get_by_text("Nothing was changed.")).to_be_visible()
    assert not Exemption.objects.exists()
    # What was typed is kept; only the ticket is missing.
    expect(card.get_by_label("Reason")).to_have_value("Works in a lab where phones are not allowed")
    card.get_by_label("Ticket number").fill("INC-901")
    card.get_by_role("button", name="Grant exemption").click()
    expect(desk.get_by_text("The exemption was granted until 1.4.2026")).to_be_visible()
    expect(desk.locator("#exempt")).to_contain_text("(ticket INC-901)")
    expect(desk.locator("#exemption-list")).to_contain_text("In force")
    shot(desk, "helpdesk-3-exemption")

    # Sign out everywhere: Alice's computer is signed out at its next click.
    sessions = desk.locator("#sessions")
    sessions.get_by_label("Ticket number").fill("INC-902")
    sessions.get_by_role("button", name="Sign out everywhere").click()
    expect(desk.get_by_text("The person was signed out everywhere.")).to_be_visible()
    assert desk.url == person_url
    computer.goto(base + "/security-info/")
    expect(computer.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()

    actions = set(
        AuditEvent.objects.filter(
            subject_id=alice.pk, actor__email="agent@example.org"
        ).values_list("action", "data__ticket")
    )
    assert {("exemption.granted", "INC-901"), ("helpdesk.signed_out", "INC-902")} <= actions
    problems.assert_none(
        expected_status_at={
            "/helpdesk/": 403,
            f"/helpdesk/people/{alice.pk}/exemptions/": 400,
        }
    )
