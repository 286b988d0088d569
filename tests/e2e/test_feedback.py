"""Feedback from the help page: a person sends it and sees the thanks; an admin exports it."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import BrowserProblems, assert_every_control_labelled
from tests.insights.browser import signed_in_as
from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.feedback.models import Feedback

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_person_sends_feedback_from_the_help_page(
    live_server: Any,
    page: Page,
    clock: FakeClock,
    problems: BrowserProblems,
    shot: Callable[[Page, str], Path],
) -> None:
    page.goto(live_server.url + "/help/")
    expect(page.get_by_role("heading", name="Feedback", exact=True)).to_be_visible()
    expect(
        page.get_by_text(
            "Contact details are used only if we need to ask you more about your feedback."
        )
    ).to_be_visible()
    expect(
        page.get_by_text(
            "Send only feedback about signing in here; for other IT problems contact the helpdesk."
        )
    ).to_be_visible()
    assert_every_control_labelled(page)
    shot(page, "feedback-0-help")

    # Sent empty first: the page says what is missing, and nothing is saved.
    page.get_by_role("button", name="Send feedback").click()
    expect(page.get_by_text("Write your feedback first.")).to_be_visible()
    assert not Feedback.objects.exists()

    page.get_by_label("Your feedback").fill("The QR code was hard to scan in a dark room.")
    page.get_by_label("Your name (optional)").fill("Bea")
    page.get_by_label("E-mail address or phone number (optional)").fill("+358 40 1234567")
    shot(page, "feedback-1-form")
    page.get_by_role("button", name="Send feedback").click()

    expect(page.get_by_role("heading", name="Thank you for your feedback.")).to_be_visible()
    assert page.url == live_server.url + "/help/feedback/thanks/"
    shot(page, "feedback-2-thanks")
    saved = Feedback.objects.get()
    assert (saved.message, saved.name, saved.contact, saved.person) == (
        "The QR code was hard to scan in a dark room.",
        "Bea",
        "+358 40 1234567",
        None,
    )
    # Reloading the thanks page sends nothing again (post/redirect/get).
    page.reload()
    expect(page.get_by_role("heading", name="Thank you for your feedback.")).to_be_visible()
    assert Feedback.objects.count() == 1
    problems.assert_none(expected_status_at={"/help/feedback/": 400})


def test_an_admin_exports_feedback_as_csv(
    live_server: Any,
    page: Page,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    tmp_path: Path,
) -> None:
    Feedback.objects.create(
        created_at=clock(), message="=1+2 is what the code looked like", name="Bea", client="x"
    )
    Feedback.objects.create(created_at=clock(), message="Push was quick", client="x")
    admin = make_user("admin@example.org", is_staff=True, is_superuser=True)
    signed_in_as(page, live_server.url, admin)

    page.goto(live_server.url + "/admin/feedback/feedback/")
    expect(page.get_by_text("Push was quick")).to_be_visible()
    page.locator("#searchbar").fill("push")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("Push was quick")).to_be_visible()
    expect(page.get_by_text("=1+2 is what the code looked like")).to_have_count(0)
    page.get_by_role("link", name="2 total").click()
    expect(page.get_by_text("=1+2 is what the code looked like")).to_be_visible()

    page.get_by_label("Select all objects on this page for an action").check()
    page.get_by_label("Action:").select_option(label="Download the selected feedback as CSV")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Go").click()
    download = download_info.value
    assert download.suggested_filename == "feedback-20260302-080000.csv"
    path = tmp_path / "feedback.csv"
    download.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert rows[0] == ["sent", "message", "name", "contact", "signed in as"]
    assert sorted(row[1] for row in rows[1:]) == [
        "'=1+2 is what the code looked like",
        "Push was quick",
    ]
    assert AuditEvent.objects.get(action="feedback.export").data == {"count": 2}
    problems.assert_none()
