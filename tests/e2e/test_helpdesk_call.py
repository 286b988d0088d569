"""One helpdesk call, as the agent lives it: the ticket typed once, a temporary pass read out
once (a reload shows it no more and issues no other), and a sign-in log in plain sentences,
the person's "Deny and report" included, readable by keyboard at phone size."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ALICE, BrowserProblems, sign_in
from tests.e2e.test_lost_phone import agent_signs_in, lost_phone, make_agent
from vahva.audit.log import record
from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.methods import tap
from vahva.methods.models import RegisteredMethod

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE_SIZE = {"width": 360, "height": 740}


def test_a_call_ticket_once_pass_once_log_in_sentences(
    live_server: Any,
    page: Page,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    settings: Any,
    tmp_path: Path,
) -> None:
    base = live_server.url
    settings.VAHVA = {**settings.VAHVA, "PUBLIC_URL": base}
    agent_secret = make_agent(make_user, clock)
    alice = make_user(email=ALICE, full_name="Alice Aalto")
    phone = lost_phone(alice, base, tmp_path / "phone", clock)

    # Someone with Alice's password signs in; her phone answers "Deny and report".
    thief = page.context.browser.new_context()  # type: ignore[union-attr]
    intruder = thief.new_page()
    sign_in(intruder, base)
    expect(intruder.get_by_role("heading", name="Verify your identity")).to_be_visible()
    [request] = phone.pending()
    phone.answer("report", challenge=request["id"])
    thief.close()
    # And a code typed twice (what the log records as "ReplayedCode").
    record("signin.mfa", subject=alice, outcome="failure", reason="ReplayedCode", method="totp")

    desk = page
    agent_signs_in(desk, base, agent_secret, clock)
    person = f"{base}/helpdesk/people/{alice.pk}/"
    desk.goto(person)

    # The log in sentences: the report with the device it came from, no internal names.
    signins = desk.locator("#signins")
    reported = signins.locator("tr", has_text="Reported as not theirs")
    expect(reported).to_contain_text("The person said the request was not theirs")
    expect(reported).to_contain_text("Device: Alice's phone")
    expect(signins).to_contain_text("The code had been used already: each code works only once.")
    expect(signins).not_to_contain_text("ReplayedCode")

    # The ticket, typed once on the first form, fills every form after that.
    desk.locator("#pass").get_by_label("Ticket number").fill("INC-4711")
    desk.locator("#pass").get_by_role("button", name="Create pass").click()
    code = desk.locator("#tap-code").inner_text().strip()
    assert desk.url == person + "pass/shown/"
    issued = RegisteredMethod.objects.get(user=alice, kind=tap.KIND)

    # The agent reloads (or comes Back): no pass on the page, and none issued silently.
    desk.reload()
    expect(desk.locator("#tap-code")).to_have_count(0)
    expect(desk.locator("#pass-gone")).to_contain_text("shown only once")
    expect(desk.get_by_text(code)).to_have_count(0)
    assert list(RegisteredMethod.objects.filter(user=alice, kind=tap.KIND)) == [issued]
    assert AuditEvent.objects.filter(action="tap.issued").count() == 1
    desk.go_back()
    desk.go_forward()
    expect(desk.locator("#tap-code")).to_have_count(0)
    assert AuditEvent.objects.filter(action="tap.issued").count() == 1
    # Another pass is its own explicit step, the ticket already there.
    expect(desk.get_by_label("Ticket number")).to_have_value("INC-4711")
    expect(desk.get_by_role("button", name="Create a new pass instead")).to_be_visible()

    desk.goto(person)
    for form in ("#caller", "#pass", "#exemptions", "#sessions"):
        expect(desk.locator(form).get_by_label("Ticket number")).to_have_value("INC-4711")
    desk.locator("#pass").get_by_role("link", name="Revoke the pass").click()
    expect(desk.get_by_label("Ticket number")).to_have_value("INC-4711")
    desk.get_by_role("button", name="Revoke pass").click()
    expect(desk.get_by_text("The temporary access pass was revoked.")).to_be_visible()
    assert AuditEvent.objects.get(action="tap.revoked").data["ticket"] == "INC-4711"
    # Changed once, remembered from then on.
    sessions = desk.locator("#sessions")
    sessions.get_by_label("Ticket number").fill("INC-4712")
    sessions.get_by_role("button", name="Sign out everywhere").click()
    expect(desk.locator("#exemptions").get_by_label("Ticket number")).to_have_value("INC-4712")

    # At phone size the log table scrolls sideways from the keyboard.
    desk.set_viewport_size(PHONE_SIZE)
    desk.goto(f"{base}/helpdesk/sign-ins/?person=alice")
    log = desk.get_by_role("region", name="Sign-in attempts table")
    expect(desk.locator("#signin-log")).to_contain_text("Reported as not theirs")
    log.focus()
    expect(log).to_be_focused()
    assert log.evaluate("e => e.scrollWidth > e.clientWidth"), "the table fits: nothing to test"
    desk.keyboard.press("ArrowRight")
    desk.keyboard.press("ArrowRight")
    desk.wait_for_function(
        "() => document.querySelector('.table-scroll').scrollLeft > 0", timeout=5000
    )
    problems.assert_none()
