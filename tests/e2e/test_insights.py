"""The helpdesk reads the sign-in log (reasons, filters, CSV) and the adoption page's charts."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import Page, expect

from tests.e2e.conftest import BrowserProblems, assert_every_control_labelled
from tests.insights.browser import signed_in_as
from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.methods.models import RegisteredMethod

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CAMPUS = "MFA skipped: 130.233.1.7 is in trusted network Campus"
MAIL = "MFA required: service Mail requires it always"


@pytest.fixture
def agent(make_user: Callable[..., Any]) -> Any:
    person = make_user("agent@example.org", full_name="Hanna Helpdesk", is_staff=True)
    person.user_permissions.add(
        Permission.objects.get(content_type__app_label="helpdesk", codename="access")
    )
    return person


def _event(clock: FakeClock, action: str, email: str, ago: float, **fields: Any) -> None:
    data = fields.pop("data", {})
    AuditEvent.objects.create(
        at=clock() - dt.timedelta(seconds=ago),
        action=action,
        subject_email=email,
        ip=fields.pop("ip", "198.51.100.7"),
        data=data,
        **fields,
    )


def test_the_sign_in_log_shows_reasons_filters_and_exports(
    live_server: Any,
    page: Page,
    clock: FakeClock,
    agent: Any,
    problems: BrowserProblems,
    shot: Callable[[Page, str], Path],
    tmp_path: Path,
) -> None:
    _event(
        clock,
        "signin.success",
        "alice@example.org",
        3600,
        reason=CAMPUS,
        ip="130.233.1.7",
        data={"method": "", "service": ""},
    )
    _event(
        clock,
        "signin.password",
        "bob@example.org",
        600,
        outcome="failure",
        reason="wrong password",
        data={"email": "bob@example.org"},
    )
    _event(
        clock,
        "signin.success",
        "bob@example.org",
        300,
        reason=MAIL,
        data={"method": "totp", "service": "Mail"},
    )
    signed_in_as(page, live_server.url, agent)

    page.goto(live_server.url + "/helpdesk/sign-ins/")
    expect(page.get_by_role("heading", name="Sign-in log")).to_be_visible()
    log = page.locator("#signin-log tbody tr")
    expect(log).to_have_count(3)
    # The policy's reasons in sentences (the CSV keeps them as recorded).
    expect(log.nth(0)).to_contain_text(
        "A second step was asked: the service Mail always requires one."
    )
    expect(log.nth(0)).to_contain_text("Authenticator app code")
    expect(log.nth(1)).to_contain_text("Wrong password")
    expect(log.nth(2)).to_contain_text(
        "No second step: 130.233.1.7 is in the trusted network Campus."
    )
    expect(log.nth(2)).to_contain_text("Password only")
    assert_every_control_labelled(page)
    shot(page, "insights-1-log")

    page.get_by_label("Person (e-mail contains)").fill("bob")
    page.get_by_label("Result").select_option(label="Succeeded")
    page.get_by_role("button", name="Filter").click()
    expect(log).to_have_count(1)
    expect(log.first).to_contain_text("bob@example.org")
    expect(log.first).to_contain_text("Signed in")
    expect(page.get_by_label("Person (e-mail contains)")).to_have_value("bob")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download as CSV").click()
    path = tmp_path / "log.csv"
    download_info.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert [row[1:3] + row[7:8] for row in rows[1:]] == [["bob@example.org", "Signed in", MAIL]]
    assert AuditEvent.objects.get(action="insights.export").data == {
        "filters": {"person": "bob", "outcome": "ok"}
    }

    # A date nobody can read: the page says so instead of failing.
    page.goto(live_server.url + "/helpdesk/sign-ins/?date_from=yesterday")
    expect(page.get_by_text("Enter a date like 2026-03-02.")).to_be_visible()
    problems.assert_none(expected_status_at={"/helpdesk/sign-ins/": 400})


def test_the_adoption_page_draws_its_charts_with_the_tables_figures(
    live_server: Any,
    page: Page,
    clock: FakeClock,
    agent: Any,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    shot: Callable[[Page, str], Path],
) -> None:
    alice = make_user("alice@example.org")
    bob = make_user("bob@example.org")
    for person, kind in ((alice, "totp"), (alice, "sms"), (bob, "totp")):
        RegisteredMethod.objects.create(user=person, kind=kind, created_at=clock())
    _event(clock, "signin.success", "alice@example.org", 60, data={"method": "totp"})
    _event(clock, "signin.success", "bob@example.org", 120, data={"method": ""})
    _event(clock, "signin.success", "bob@example.org", 86400, data={"method": "sms"})
    signed_in_as(page, live_server.url, agent)

    page.goto(live_server.url + "/helpdesk/adoption/")
    # The agent counts too: staff sign in with an authenticator app of their own.
    expect(page.get_by_text("3 of 3 people (100 %) have registered")).to_be_visible()
    methods_chart = page.locator("#methods-chart")
    days_chart = page.locator("#signins-chart")
    expect(methods_chart).to_be_visible()
    expect(days_chart).to_be_visible()

    drawn = page.evaluate(
        """(ids) => ids.map((id) => {
            const canvas = document.getElementById(id);
            const chart = window.Chart.getChart(canvas);
            if (chart === undefined) return null;
            const context = canvas.getContext("2d");
            const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
            return {
                type: chart.config.type,
                labels: chart.data.labels.length,
                data: chart.data.datasets.map((set) => set.data),
                painted,
            };
        })""",
        ["methods-chart", "signins-chart"],
    )
    methods, days = drawn
    assert methods is not None, "Chart.js drew no chart on #methods-chart"
    assert days is not None, "Chart.js drew no chart on #signins-chart"
    assert methods["type"] == days["type"] == "bar"
    assert methods["painted"] > 0
    assert days["painted"] > 0

    # The same figures as the tables.
    method_rows = page.locator("#methods-table tbody tr")
    expect(method_rows).to_have_count(2)
    expect(method_rows.nth(0)).to_contain_text("Authenticator app code")
    assert methods["labels"] == 2
    assert methods["data"] == [
        [int(method_rows.nth(i).locator("td").nth(1).inner_text()) for i in range(2)]
    ]
    assert methods["data"] == [[3, 1]]
    day_rows = page.locator("#days-table tbody tr")
    expect(day_rows).to_have_count(30)
    table = [
        [int(cell) for cell in day_rows.nth(i).locator("td").all_inner_texts()[1:]]
        for i in range(30)
    ]
    assert days["labels"] == 30
    assert days["data"] == [[row[0] for row in table], [row[1] for row in table]]
    assert table[-1] == [1, 1]
    assert table[-2] == [1, 0]
    shot(page, "insights-2-adoption")
    problems.assert_none()


def test_without_javascript_the_tables_are_the_page(
    live_server: Any,
    browser: Any,
    clock: FakeClock,
    agent: Any,
) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        signed_in_as(page, live_server.url, agent)
        page.goto(live_server.url + "/helpdesk/adoption/")
        expect(page.locator("#days-table tbody tr")).to_have_count(30)
        expect(page.locator("#methods-chart")).to_be_hidden()
    finally:
        context.close()
