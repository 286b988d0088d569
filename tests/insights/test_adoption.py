"""The adoption page: who has registered which methods, and sign-ins per day."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.helpers import text
from vahva.audit.models import AuditEvent
from vahva.insights import queries
from vahva.methods import registry
from vahva.methods.base import Role
from vahva.methods.models import RegisteredMethod

pytestmark = pytest.mark.django_db

PAGE = "/helpdesk/adoption/"


def _method(user: Any, kind: str, clock: Any) -> RegisteredMethod:
    return RegisteredMethod.objects.create(user=user, kind=kind, created_at=clock())


@pytest.fixture
def people(make_user: Any, clock: Any, helpdesk_user: Any) -> None:
    """Five active people (the helpdesk agent is one) and one who has left."""
    alice = make_user("alice@example.org")
    bob = make_user("bob@example.org")
    make_user("carol@example.org")
    dave = make_user("dave@example.org")
    gone = make_user("gone@example.org", is_active=False)
    _method(alice, "totp", clock)
    _method(alice, "sms", clock)
    _method(alice, "totp", clock)  # a second app counts Alice once
    _method(bob, "totp", clock)
    _method(dave, "tap", clock)  # a temporary access pass is not adoption
    _method(gone, "sms", clock)


def _table(response: Any, table_id: str) -> list[list[str]]:
    body = text(response)
    table = body.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = table.split("<tbody>", 1)[1].split("</tr>")
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in rows
        if "<td" in row
    ]


def _data(response: Any) -> dict[str, Any]:
    match = re.search(
        r'<script id="adoption-data" type="application/json">(.*?)</script>', text(response)
    )
    assert match
    return dict(json.loads(match.group(1)))


def test_people_and_their_methods(helpdesk_client: Client, people: None) -> None:
    response = helpdesk_client.get(PAGE)
    assert response.status_code == 200
    # The helpdesk agent counts too: staff sign in with an authenticator app of their own.
    assert "3 of 5 people (60 %) have registered at least one sign-in method." in text(response)
    assert _table(response, "methods-table") == [
        ["Authenticator app code", "3"],
        ["Phone: text me a code", "1"],
    ]
    data = _data(response)
    assert data["methods"]["labels"] == ["Authenticator app code", "Phone: text me a code"]
    assert data["methods"]["people"] == [3, 1]


def test_unlisted_methods_are_not_counted(
    helpdesk_client: Client, people: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry.get("sms"), "role", Role.STAND_IN)
    response = helpdesk_client.get(PAGE)
    assert _table(response, "methods-table") == [["Authenticator app code", "3"]]
    assert "3 of 5 people" in text(response)
    assert "sms" not in queries.counted_kinds()


def test_only_the_agent_registered_yet(helpdesk_client: Client) -> None:
    # Staff cannot read this page without a second factor, so the agent is always counted.
    response = helpdesk_client.get(PAGE)
    assert "1 of 1 person (100 %) have registered" in text(response)
    assert _table(response, "methods-table") == [["Authenticator app code", "1"]]


def test_sign_ins_per_day_split_by_second_factor(
    helpdesk_client: Client, event: Callable[..., AuditEvent], clock: Any
) -> None:
    # The clock: 2026-03-02 08:00 UTC, 10:00 in Helsinki.
    day = dt.timedelta(days=1)
    event("signin.success", method="totp")
    event("signin.success", method="app_push")
    event("signin.success", method="")
    # 23:30 UTC on 28.2 is 01:30 on 1.3 in Helsinki.
    event("signin.success", method="", at=dt.datetime(2026, 2, 28, 23, 30, tzinfo=dt.UTC))
    event("signin.success", method="totp", ago=29 * day.total_seconds())
    # Not counted: older than 30 days, failures, other actions.
    event("signin.success", method="totp", ago=30 * day.total_seconds())
    event("signin.mfa", outcome="failure", method="totp")
    event("signin.password", reason="MFA required")
    response = helpdesk_client.get(PAGE)
    rows = _table(response, "days-table")
    assert len(rows) == 30
    assert rows[0] == ["Sun 1.2.2026", "1", "0"]
    assert rows[-2] == ["Sun 1.3.2026", "0", "1"]
    assert rows[-1] == ["Mon 2.3.2026", "2", "1"]
    assert all(row[1:] == ["0", "0"] for row in rows[1:-2])
    data = _data(response)["days"]
    assert data["labels"][0] == "2026-02-01"
    assert data["labels"][-1] == "2026-03-02"
    # The chart's figures are the table's.
    assert [str(n) for n in data["with_mfa"]] == [row[1] for row in rows]
    assert [str(n) for n in data["password_only"]] == [row[2] for row in rows]


def test_page_loads_the_vendored_chart_library(helpdesk_client: Client) -> None:
    body = text(helpdesk_client.get(PAGE))
    assert '<script src="/static/vahva/vendor/chart.js/chart.umd.min.js" defer></script>' in body
    assert '<script src="/static/insights/charts.js" defer></script>' in body
    # Drawn only when the script runs; the tables are the page without it.
    assert '<div class="chart" data-chart hidden><canvas id="methods-chart"' in body
    assert "cdn" not in body.lower()
