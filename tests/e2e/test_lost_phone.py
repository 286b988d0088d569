"""The lost phone, end to end: Alice's only method is the vahva app on a phone she has lost.
The helpdesk finds her and issues a temporary access pass (read off the page, shown once);
she signs in with password + pass from outside the organisation's networks, registers an
authenticator app on her new phone (QR read by zbarimg, codes from oathtool), and the agent
removes the lost phone: its signed requests are refused and Security info no longer lists it.

The helpdesk agent and Alice use separate browser contexts (separate cookies). The lost phone
is the command-line client of the device API (:class:`DeviceClient`), talking HTTP to the
live server, so "its requests are refused" is what the server answers a real device.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from tests.e2e.conftest import (
    _REPORT_CSP,
    ALICE,
    PASSWORD,
    BrowserProblems,
    decode_qr,
    oathtool,
    parse_otpauth,
    sign_in,
)
from vahva.audit.models import AuditEvent
from vahva.authenticator.client import ClientError, DeviceClient
from vahva.authenticator.models import Device, PushChallenge
from vahva.clock import FakeClock
from vahva.methods import app_push, registry
from vahva.methods import service as methods
from vahva.methods.totp import generate_secret

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AGENT = "agent@example.org"
PASS = re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$")
STEP = 30
Shot = Callable[[Page, str], Path]


def watch(context: BrowserContext, problems: BrowserProblems) -> None:
    """The listeners the ``problems`` fixture puts on the first context, for another one."""

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.console.append((message.text, str(message.location.get("url", ""))))

    context.on("console", on_console)
    context.on("weberror", lambda error: problems.exceptions.append(str(error.error)))
    context.expose_binding("__vahvaCsp", lambda _source, report: problems.csp.append(report))
    context.add_init_script(_REPORT_CSP)


def make_agent(make_user: Callable[..., Any], clock: FakeClock) -> str:
    """A helpdesk agent (staff + helpdesk.access) with an authenticator app; its secret."""
    from django.contrib.auth.models import Permission

    agent = make_user(AGENT, full_name="Helga Helpdesk", is_staff=True)
    agent.user_permissions.add(
        Permission.objects.get(codename="access", content_type__app_label="helpdesk")
    )
    secret = generate_secret()
    methods.save_new(agent, "totp", now=clock() - dt.timedelta(days=30), secret=secret)
    return secret


def agent_signs_in(page: Page, base: str, secret: str, clock: FakeClock) -> None:
    sign_in(page, base, email=AGENT)
    expect(page.get_by_text("Enter the code from your authenticator app")).to_be_visible()
    page.get_by_label("Code", exact=True).fill(oathtool(secret, clock()))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()


def lost_phone(alice: Any, base: str, state: Path, clock: FakeClock) -> DeviceClient:
    """The phone Alice had: the vahva app enrolled and approved, her only method."""
    method = registry.get("app_push")
    pending = method.start_enrolment(alice, now=clock())
    phone = DeviceClient(state, now=lambda: clock().timestamp())
    enrolled = phone.enroll(app_push.enrolment_link(pending.secret), name="Alice's phone")
    number = PushChallenge.objects.get(pk=enrolled["challenge"]).number
    phone.answer("approve", number=number)
    method.finish_enrolment(pending, uuid.UUID(enrolled["challenge"]).hex, now=clock())
    assert phone.pending() == []
    return phone


def test_the_helpdesk_gets_alice_back_in_after_she_lost_her_phone(
    live_server: Any,
    browser: Browser,
    page: Page,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    settings: Any,
    tmp_path: Path,
    shot: Shot,
) -> None:
    base = live_server.url
    settings.VAHVA = {
        **settings.VAHVA,
        # QR links are built from the public URL.
        "PUBLIC_URL": base,
        # The campus is trusted; the browsers here (127.0.0.1) are outside it.
        "TRUSTED_NETWORKS": {"Campus": ["130.233.0.0/16"]},
    }
    agent_secret = make_agent(make_user, clock)
    alice = make_user(email=ALICE, full_name="Alice Aalto")
    old_phone = lost_phone(alice, base, tmp_path / "old-phone", clock)

    # 1. Alice calls the helpdesk. The agent finds her.
    desk = page
    agent_signs_in(desk, base, agent_secret, clock)
    desk.goto(base + "/helpdesk/")
    desk.get_by_label("Name or e-mail address").fill("aalto")
    desk.get_by_role("button", name="Search").click()
    desk.get_by_role("link", name="Alice Aalto").click()
    expect(desk.get_by_role("heading", name="Alice Aalto", level=1)).to_be_visible()
    expect(desk.locator("#methods")).to_contain_text("vahva app (Alice's phone)")
    expect(desk.locator("#devices")).to_contain_text("Alice's phone")
    # The lost phone cannot answer a check: the agent verifies her another way and goes on.

    # 2. A one-time pass, read off the page once.
    card = desk.locator("#pass")
    card.get_by_label("Ticket number").fill("INC-4711")
    expect(card.get_by_label("Valid for")).to_have_value("3600")
    once = card.get_by_label("Once: the pass ends when the person signs in with it")
    expect(once).to_be_checked()
    card.get_by_role("button", name="Create pass").click()
    expect(desk.get_by_role("heading", name="Temporary access pass")).to_be_visible()
    code = desk.locator("#tap-code").inner_text().strip()
    assert PASS.fullmatch(code), code
    expect(desk.get_by_text("It is shown only this once")).to_be_visible()
    shot(desk, "lost-phone-1-pass")
    # Not in the address, and not on the person's page afterwards.
    assert code not in desk.url
    desk.get_by_role("link", name="Back to Alice Aalto").click()
    expect(desk.locator("#pass-active")).to_contain_text(
        "Temporary access pass (one use, valid until"
    )
    assert code not in desk.content()

    # 3. Alice, at home on her computer: password, then the pass.
    home = browser.new_context()
    watch(home, problems)
    computer = home.new_page()
    sign_in(computer, base)
    expect(computer.get_by_role("heading", name="Verify your identity")).to_be_visible()
    expect(
        computer.get_by_text("Enter the temporary access pass the helpdesk gave you")
    ).to_be_visible()
    computer.get_by_label("Temporary access pass").fill(code.lower().replace("-", " "))
    computer.get_by_role("button", name="Verify").click()
    expect(computer.get_by_role("heading", name="Security info")).to_be_visible()
    # The pass is not one of her methods; the lost phone still is, for now.
    expect(computer.locator("#methods tbody tr")).to_have_count(1)
    expect(computer.locator("#methods")).not_to_contain_text("Temporary access pass")

    # 4. She registers an authenticator app on her new phone.
    computer.get_by_role("link", name="Add method").click()
    computer.get_by_label("Which method would you like to add?").select_option(
        label="Authenticator app code"
    )
    computer.get_by_role("button", name="Add").click()
    account = parse_otpauth(decode_qr(computer, "lost-phone-2-qr"))
    assert account.label == f"Demo University:{ALICE}"
    computer.get_by_label("Enter the 6-digit code shown in the app").fill(
        oathtool(account.secret, clock())
    )
    computer.get_by_label("Name (optional)").fill("New phone")
    computer.get_by_role("button", name="Next").click()
    expect(computer.get_by_role("heading", name="Security info")).to_be_visible()
    expect(computer.locator("#methods")).to_contain_text("Authenticator app code (New phone)")

    # 5. The agent removes the lost phone.
    desk.reload()
    expect(desk.locator("#methods")).to_contain_text("Authenticator app code (New phone)")
    desk.get_by_role("link", name="Remove device Alice's phone").click()
    expect(desk.get_by_role("heading", name="Remove a device")).to_be_visible()
    # She has a new method, so no warning about leaving her with the password alone.
    expect(desk.locator("#last-method")).to_have_count(0)
    desk.get_by_label("Ticket number").fill("INC-4711")
    desk.get_by_role("button", name="Remove device").click()
    expect(desk.get_by_text("The device “Alice's phone” was removed.")).to_be_visible()
    expect(desk.locator("#no-devices")).to_be_visible()
    shot(desk, "lost-phone-3-removed")

    # Whoever has the lost phone now: its signed requests are refused.
    with pytest.raises(ClientError, match="device_removed"):
        old_phone.pending()
    assert Device.objects.get(user=alice).status == "removed"
    # And Security info no longer lists it.
    computer.reload()
    rows = computer.locator("#methods tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Authenticator app code (New phone)")
    expect(computer.locator("#methods")).not_to_contain_text("Alice's phone")

    # 6. Next time she signs in with the new phone; the used pass is not asked for again.
    computer.get_by_role("button", name="Sign out").click()
    expect(computer.get_by_role("heading", name="You have signed out")).to_be_visible()
    clock.advance(STEP)
    sign_in(computer, base, password=PASSWORD)
    expect(computer.get_by_text("Enter the code from your authenticator app")).to_be_visible()
    computer.get_by_label("Code", exact=True).fill(oathtool(account.secret, clock()))
    computer.get_by_role("button", name="Verify").click()
    expect(computer.get_by_role("heading", name="Security info")).to_be_visible()
    shot(computer, "lost-phone-4-signed-in")

    # The audit log has the whole story, with the ticket.
    trail = {
        event.action: event
        for event in AuditEvent.objects.filter(subject_id=alice.pk).order_by("at", "id")
    }
    assert trail["helpdesk.viewed"].actor.email == AGENT
    assert trail["tap.issued"].data["ticket"] == "INC-4711"
    assert trail["helpdesk.device_removed"].data["ticket"] == "INC-4711"
    assert trail["method.added"].data["method"] == "totp"
    home.close()
    problems.assert_none()
