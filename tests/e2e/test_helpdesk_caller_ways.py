"""The helpdesk verifies a caller who has no vahva app at hand (issue #19 item 9), in the
browser: a code texted to Alice's registered number (read on the dev phone), then a recovery
code read out (used up: a second reading is refused). axe-core checks the pages on the way.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import ALICE, BrowserProblems
from tests.e2e.test_helpdesk import open_person
from tests.e2e.test_lost_phone import agent_signs_in, make_agent
from tests.methods.test_recovery_codes import make_codes
from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.methods import service as methods

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NUMBER = "+358441234521"
MASKED = "+358 44 *** **21"


def _agent_and_alice(
    settings: Any, base: str, make_user: Callable[..., Any], clock: FakeClock, kind: str
) -> tuple[str, Any]:
    """The dev phone on, a helpdesk agent (their authenticator secret), and Alice with
    NUMBER registered a day ago for ``kind`` (texts or calls)."""
    settings.VAHVA = {**settings.VAHVA, "PUBLIC_URL": base, "DEV_PHONE": True}
    agent_secret = make_agent(make_user, clock)
    alice = make_user(email=ALICE, full_name="Alice Aalto")
    methods.save_new(
        alice, kind, now=clock() - dt.timedelta(days=1), data={"number": NUMBER, "language": "en"}
    )
    return agent_secret, alice


def test_the_agent_verifies_alice_by_text_and_by_a_recovery_code(
    live_server: Any,
    page: Page,
    context: BrowserContext,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    settings: Any,
) -> None:
    base = live_server.url
    agent_secret, alice = _agent_and_alice(settings, base, make_user, clock, "sms")
    _codes, printed = make_codes(alice, clock)

    desk = page
    agent_signs_in(desk, base, agent_secret, clock)
    open_person(desk, base, "alice@", "Alice Aalto")
    expect(
        desk.locator("#caller").get_by_text("The person has no vahva app to send a check to.")
    ).to_be_visible()
    caller = desk.locator("#caller-other")
    assert_accessible(desk, "the person page with the ways to verify a caller")

    # By text: the agent starts the check, Alice reads the code from her phone.
    caller.get_by_label(f"Text a code to {MASKED}").check()
    caller.locator("#caller-ways").get_by_label("Ticket number").fill("INC-700")
    caller.get_by_role("button", name="Start the check").click()
    expect(desk.get_by_role("heading", name="Verify the caller")).to_be_visible()
    expect(desk.locator("#caller-sent")).to_have_text(f"A code was texted to {MASKED}.")
    assert_accessible(desk, "the caller check page")
    phone = context.new_page()
    phone.goto(f"{base}/dev/phone/{NUMBER}/")
    message = phone.locator("#texts .text").first
    expect(message).to_contain_text("helpdesk")
    found = re.search(r"\b(\d{6})\b", message.inner_text())
    assert found
    desk.get_by_label("The code the caller read out").fill(found.group(1))
    desk.get_by_role("button", name="Check the code").click()
    expect(desk.locator("#caller-result")).to_contain_text(
        f"Verified by a code texted to {MASKED} at"
    )
    expect(desk.locator("#caller-result")).to_contain_text("ticket INC-700")

    # By a recovery code: the ticket is remembered; the code read out is used up.
    desk.get_by_role("link", name="Back to Alice Aalto").click()
    outcomes = desk.locator("#caller-outcomes")
    expect(outcomes).to_contain_text(f"Verified by a code texted to {MASKED}.")
    expect(outcomes).to_contain_text("Ticket INC-700.")
    caller.get_by_label(re.compile(r"Recovery codes \(10 of 10 left\)")).check()
    expect(caller.locator("#caller-ways").get_by_label("Ticket number")).to_have_value("INC-700")
    caller.get_by_role("button", name="Start the check").click()
    expect(desk.get_by_text("The code is then used up")).to_be_visible()
    desk.get_by_label("The code the caller read out").fill(printed[0].lower())
    desk.get_by_role("button", name="Check the code").click()
    expect(desk.locator("#caller-result")).to_contain_text(
        "Verified by a recovery code, read out (it is now used up)"
    )

    # The same code read out again (a second call, or someone who overheard it): refused.
    desk.get_by_role("link", name="Back to Alice Aalto").click()
    caller.get_by_label(re.compile(r"Recovery codes \(9 of 10 left\)")).check()
    caller.get_by_role("button", name="Start the check").click()
    expect(desk.get_by_label("The code the caller read out")).to_be_visible()
    refused_at = urlsplit(desk.url).path + "code/"
    desk.get_by_label("The code the caller read out").fill(printed[0])
    desk.get_by_role("button", name="Check the code").click()
    expect(desk.locator("#caller-error")).to_contain_text("already used")
    assert_accessible(desk, "a refused code")

    verified = AuditEvent.objects.filter(action="helpdesk.caller_check", outcome="ok")
    assert [e.data["ticket"] for e in verified] == ["INC-700", "INC-700"]
    problems.assert_none(expected_status_at={refused_at: 400})


def test_the_call_says_the_code_only_when_hash_is_pressed_on_the_dev_phone(
    live_server: Any,
    page: Page,
    context: BrowserContext,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    settings: Any,
) -> None:
    base = live_server.url
    agent_secret, _alice = _agent_and_alice(settings, base, make_user, clock, "voice")

    desk = page
    agent_signs_in(desk, base, agent_secret, clock)
    open_person(desk, base, "alice@", "Alice Aalto")
    caller = desk.locator("#caller-other")
    caller.get_by_label(f"Call {MASKED} with a code").check()
    caller.locator("#caller-ways").get_by_label("Ticket number").fill("INC-800")
    caller.get_by_role("button", name="Start the check").click()
    expect(desk.locator("#caller-sent")).to_have_text(f"We are calling {MASKED} with a code.")

    # Alice's phone rings; what it says before any key (a voicemail box's recording) has no
    # code, only who calls, why, and "press the hash key".
    phone = context.new_page()
    phone.goto(f"{base}/dev/phone/{NUMBER}/")
    expect(phone.locator("#call-state")).to_have_text("Ringing…")
    said = phone.locator("#call-say")
    expect(said).to_contain_text("The helpdesk asked us to call you with a code")
    expect(said).to_contain_text("press the hash key")
    assert not re.search(r"\d", said.inner_text())
    phone.get_by_role("button", name="Answer", exact=True).click()
    expect(phone.locator("#call-state")).to_have_text("On a call")
    expect(phone.locator("#call-heard")).to_have_count(0)
    phone.get_by_role("form", name="Keypad").get_by_role("button", name="#", exact=True).click()
    heard = phone.locator("#call-heard")
    expect(heard).to_contain_text("Your code is")
    found = re.search(r"Your code is (\d(?:, \d){5})\.", heard.inner_text())
    assert found
    assert_accessible(phone, "the dev phone after # on the helpdesk's call")

    desk.get_by_label("The code the caller read out").fill(found.group(1).replace(", ", ""))
    desk.get_by_role("button", name="Check the code").click()
    expect(desk.locator("#caller-result")).to_contain_text(
        f"Verified by a code called to {MASKED} at"
    )
    # The code is used: # now says goodbye and the call ends.
    phone.get_by_role("form", name="Keypad").get_by_role("button", name="#", exact=True).click()
    expect(phone.locator("#no-call")).to_be_visible()
    expect(phone.locator("#call-heard")).to_contain_text("This code is no longer valid")
    problems.assert_none()
