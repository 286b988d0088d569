"""/help as a newcomer reads it: registering and signing in with the vahva app (number
matching), texts and calls, passkeys and recovery codes; what to do with a request or a text
you did not ask for; and every question of the seeds' FAQ still answered."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import BrowserProblems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def answer(page: Page, question: str) -> Any:
    """Open the FAQ entry ``question`` with the keyboard; its text."""
    summary = page.locator("summary", has_text=question)
    expect(summary).to_have_count(1)
    summary.focus()
    page.keyboard.press("Enter")
    details = page.locator("details", has=summary)
    expect(details).to_have_attribute("open", "")
    return details


def test_help_walks_the_vahva_app_phone_passkeys_and_the_faq(
    live_server: Any, page: Page, settings: Any, problems: BrowserProblems
) -> None:
    settings.VAHVA = {
        **settings.VAHVA,
        "TRUSTED_NETWORKS": {"Campus": ["130.233.0.0/16"], "VPN": ["10.100.0.0/16"]},
        "ACTIVATION_DELAY": 7200,
    }
    page.goto(live_server.url + "/help/")
    expect(page.get_by_role("heading", name="Multi-factor sign-in", level=1)).to_be_visible()

    register = page.locator("ol", has=page.get_by_text("Let's try it out"))
    expect(register).to_contain_text("point your phone's camera at the QR code")
    expect(register).to_contain_text("Type the number into the app and tap Approve")
    expect(register).to_contain_text("“Text me a code”")
    expect(register).to_contain_text("“Call me” (answer and press the # key)")
    # The seeds' organisation: MFA starts about two hours after registering.
    expect(register).to_contain_text("asked from about 2 hours after you register")
    expect(page.get_by_text("a passkey or security key, and recovery codes")).to_be_visible()

    signin = page.locator("ol", has=page.get_by_text("When a second step is needed"))
    for words in (
        "the computer shows a number and your phone shows a sign-in request",
        "type the 6-digit code it shows",  # the app without a signal
        "type the 6-digit code from the message",
        "press the # key to approve",
        "fingerprint, face, PIN",
        "A recovery code",
        "“Sign in another way”",
    ):
        expect(signin).to_contain_text(words)
    expect(page.get_by_text("authenticator app that shows 6-digit codes")).to_be_visible()

    not_me = answer(page, "I got a sign-in request I didn't make.")
    expect(not_me).to_contain_text("Do not approve it. Tap “Deny and report”.")
    expect(not_me).to_contain_text("change it now on the Security info page")
    text = answer(page, "I got a text or a call I didn't ask for.")
    expect(text).to_contain_text("Never give the code to anyone")
    expect(text).to_contain_text("press 0 and then #")
    expect(text).to_contain_text("helpdesk@demo.example")

    # The seeds' FAQ, each question still answered.
    lost = answer(page, "I lost my phone. How do I sign in?")
    expect(lost).to_contain_text("On the organisation's networks (Campus, VPN)")
    expect(lost).to_contain_text("temporary access pass")
    expect(lost).to_contain_text("a text or call to your number")
    several = answer(page, "Can I use more than one phone?")
    expect(several).to_contain_text("Yes.")
    expect(several).to_contain_text("a sign-in request goes to all of them")
    expect(answer(page, "Do I need the second step in mobile apps too?")).to_contain_text("Yes.")
    expect(answer(page, "Can I opt out?")).to_contain_text("Contact the helpdesk")
    expect(answer(page, "When is the second step asked?")).to_contain_text(
        "outside the organisation's own networks (Campus, VPN)"
    )
    expect(page.get_by_role("heading", name="Feedback")).to_be_visible()
    assert_accessible(page, "help")
    problems.assert_none()
