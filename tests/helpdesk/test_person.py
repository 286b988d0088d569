"""Finding a person and their page: methods, devices, recent sign-ins with the policy's
reasons, reports; and the audit row that says who looked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.authenticator.device import TestDevice
from tests.helpers import sign_in_password, text
from vahva.accounts.models import User
from vahva.audit.log import record
from vahva.audit.models import AuditEvent
from vahva.authenticator import service as devices
from vahva.helpdesk.service import SEARCH_LIMIT
from vahva.methods import tap

pytestmark = pytest.mark.django_db


# --- search --------------------------------------------------------------------------------


def test_the_start_page_asks_whom_to_find(desk: Client) -> None:
    page = desk.get("/helpdesk/")
    assert page.status_code == 200
    assert "Name or e-mail address" in text(page)
    assert "People found" not in text(page)
    assert "no-store" in page["Cache-Control"]


def test_search_by_part_of_the_address_or_the_name_in_any_case(
    desk: Client, alice: User, make_user: Callable[..., Any]
) -> None:
    make_user("bob@example.org", full_name="Bob Builder")
    by_address = text(desk.get("/helpdesk/", {"q": "ALICE@"}))
    assert f'href="/helpdesk/people/{alice.pk}/"' in by_address
    assert "bob@example.org" not in by_address
    by_name = text(desk.get("/helpdesk/", {"q": "builder"}))
    assert "bob@example.org" in by_name
    assert "alice@example.org" not in by_name


def test_nobody_found(desk: Client, alice: User) -> None:
    page = text(desk.get("/helpdesk/", {"q": "zebra"}))
    assert "Nobody matches." in page


def test_results_are_bounded(desk: Client, make_user: Callable[..., Any]) -> None:
    for n in range(SEARCH_LIMIT + 3):
        User.objects.create_user(f"student{n:02d}@example.org", None, full_name=f"Student {n}")
    page = text(desk.get("/helpdesk/", {"q": "student"}))
    assert page.count('href="/helpdesk/people/') == SEARCH_LIMIT
    assert f"Only the first {SEARCH_LIMIT} people are shown." in page


def test_an_overlong_search_is_a_400(desk: Client) -> None:
    response = desk.get("/helpdesk/", {"q": "a" * 300})
    assert response.status_code == 400
    assert "Search with at most 254 characters." in text(response)


# --- the person page -----------------------------------------------------------------------


def test_the_page_shows_methods_devices_and_sign_ins_with_reasons(
    desk: Client, agent: User, alice: User, phone: TestDevice, clock: Any
) -> None:
    assert sign_in_password(Client(), password="wrong").status_code == 400
    record(
        "signin.success",
        subject=alice,
        actor=alice,
        reason="MFA skipped: 130.233.1.7 is in trusted network Campus",
        method="",
        service="Mail",
    )
    page = desk.get(f"/helpdesk/people/{alice.pk}/")
    assert page.status_code == 200
    body = text(page)
    assert "alice@example.org" in body
    assert "vahva app (Alice&#x27;s phone)" in body
    assert 'id="devices"' in body
    assert "In use" in body
    assert "Wrong password" in body
    # The audit rows' reasons, in sentences an agent can read out.
    assert "The password was wrong." in body
    assert "No second step: 130.233.1.7 is in the trusted network Campus." in body
    assert "Mail" in body
    assert "No wrong codes were entered" in body
    # A person's sign-in data is not kept by shared caches or the browser's history.
    assert "no-store" in page["Cache-Control"]


def test_opening_the_page_is_audited(desk: Client, agent: User, alice: User) -> None:
    desk.get(f"/helpdesk/people/{alice.pk}/")
    event = AuditEvent.objects.get(action="helpdesk.viewed")
    assert (event.actor_id, event.subject_id) == (agent.pk, alice.pk)
    assert event.ip == "127.0.0.1"


def test_an_unknown_person_is_a_404(desk: Client) -> None:
    response = desk.get("/helpdesk/people/999999/")
    assert response.status_code == 404
    assert "Nobody with that id was found." in text(response)
    assert not AuditEvent.objects.filter(action="helpdesk.viewed").exists()
    assert desk.get("/helpdesk/people/abc/").status_code == 404
    assert desk.get("/helpdesk/people/99999999999999999999999/").status_code == 404


def test_the_page_shows_a_report_and_the_hold(
    desk: Client, alice: User, phone: TestDevice, clock: Any
) -> None:
    import uuid

    devices.push_for_attempt(
        alice,
        attempt=uuid.uuid4(),
        device_ids=[phone.id],
        now=clock(),
        context={"ip": "198.51.100.7", "service": "Mail"},
    )
    (challenge,) = phone.challenges()
    assert phone.answer(challenge, "report").status_code == 200
    body = text(desk.get(f"/helpdesk/people/{alice.pk}/"))
    assert "Reported requests" in body
    assert "a sign-in request from 198.51.100.7 (service: Mail) was answered" in body
    assert "Sign-in requests to the app are paused until" in body


def test_the_pass_is_not_a_method_but_a_notice(
    desk: Client, agent: User, alice: User, phone: TestDevice, clock: Any
) -> None:
    tap.issue(alice, now=clock(), ticket="T-9", actor=agent)
    body = text(desk.get(f"/helpdesk/people/{alice.pk}/"))
    assert 'id="pass-active"' in body
    assert "Temporary access pass (one use, valid until" in body
    assert "Ticket T-9." in body
    methods_table = body.split('id="methods"')[1].split("</table>")[0]
    assert "Temporary access pass" not in methods_table


def test_an_expired_exemption_and_pass_do_not_show_as_active(
    desk: Client, agent: User, alice: User, clock: Any
) -> None:
    from vahva.policy import exemptions

    exemptions.grant(
        alice,
        ticket="T-1",
        reason="No phone",
        expires_at=clock() + dt.timedelta(days=1),
        now=clock(),
        actor=agent,
    )
    tap.issue(alice, now=clock(), ticket="T-2", actor=agent, lifetime=3600)
    assert 'id="exempt"' in text(desk.get(f"/helpdesk/people/{alice.pk}/"))
    clock.advance(2 * 86400)
    body = text(desk.get(f"/helpdesk/people/{alice.pk}/"))
    assert 'id="exempt"' not in body
    assert 'id="pass-active"' not in body
    assert "Ended" in body
