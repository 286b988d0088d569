"""The helpdesk's hardware-token actions, which the token method adds to the person page:
reserve a token from stock, take one back (lost: retired; returned: to stock), resync."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.helpers import text
from tests.methods.token_helpers import hotp_code, stock_token
from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.methods.hardware_token import oath, tokens
from vahva.methods.hardware_token.models import HardwareToken, State
from vahva.methods.models import RegisteredMethod

pytestmark = pytest.mark.django_db


def _url(person: Any, action: str) -> str:
    return f"/helpdesk/people/{person.pk}/methods/hardware_token/{action}/"


def test_the_person_page_shows_the_tokens_serial(
    desk: Client, alice: Any, clock: FakeClock
) -> None:
    token = stock_token("TK0100")
    tokens.activate(alice, "TK0100", hotp_code(token, 0), now=clock())
    page = text(desk.get(f"/helpdesk/people/{alice.pk}/"))
    assert "Hardware tokens" in page
    assert "TK0100" in page
    assert "In use" in page
    assert "Hardware token (TK0100)" in page  # the methods table, from the method's describe()


def test_reserve_then_the_person_activates_it(desk: Client, alice: Any, clock: FakeClock) -> None:
    token = stock_token("TK0101")
    missing = desk.post(_url(alice, "reserve"), {"serial": "TK0101"})
    assert missing.status_code == 400
    assert "ticket" in text(missing).lower()
    done = desk.post(_url(alice, "reserve"), {"serial": "TK0101", "ticket": "HD-1"})
    assert done.status_code == 302
    page = text(desk.get(done["Location"]))
    assert "reserved for this person" in page
    assert "Reserved, not activated yet" in page
    token.refresh_from_db()
    assert token.reserved_for == alice
    event = AuditEvent.objects.get(action="helpdesk.method_action", outcome="ok")
    assert (event.data["method"], event.data["step"], event.data["ticket"]) == (
        "hardware_token",
        "reserve",
        "HD-1",
    )
    tokens.activate(alice, "TK0101", hotp_code(token, 0), now=clock())


def test_a_lost_token_is_retired_and_its_method_removed(
    desk: Client, alice: Any, clock: FakeClock
) -> None:
    token = stock_token("TK0102")
    tokens.activate(alice, "TK0102", hotp_code(token, 0), now=clock())
    done = desk.post(_url(alice, "release"), {"serial": "TK0102", "why": "lost", "ticket": "HD-2"})
    assert done.status_code == 302
    assert "retired" in text(desk.get(done["Location"]))
    token.refresh_from_db()
    assert token.state == State.RETIRED
    assert not RegisteredMethod.objects.filter(user=alice, kind="hardware_token").exists()


def test_a_returned_token_goes_back_to_stock_with_a_clean_slate(
    desk: Client, alice: Any, make_user: Any, clock: FakeClock
) -> None:
    token = stock_token("TK0103")
    tokens.activate(alice, "TK0103", hotp_code(token, 0), now=clock())
    desk.post(_url(alice, "release"), {"serial": "TK0103", "why": "returned", "ticket": "HD-3"})
    token.refresh_from_db()
    assert token.state == State.AVAILABLE
    assert token.registered is None
    bob = make_user("bob@example.org")
    tokens.activate(bob, "TK0103", hotp_code(token, token.counter), now=clock())


def test_resync_with_two_consecutive_codes(desk: Client, alice: Any, clock: FakeClock) -> None:
    token = stock_token("TK0104")
    tokens.activate(alice, "TK0104", hotp_code(token, 0), now=clock())
    far = 1 + oath.LOOK_AHEAD + 50
    wrong = desk.post(
        _url(alice, "resync"),
        {"serial": "TK0104", "first": hotp_code(token, far), "second": hotp_code(token, far + 2),
         "ticket": "HD-4"},
    )  # fmt: skip
    assert wrong.status_code == 400
    assert "Nothing was changed" in text(wrong)
    done = desk.post(
        _url(alice, "resync"),
        {"serial": "TK0104", "first": hotp_code(token, far), "second": hotp_code(token, far + 1),
         "ticket": "HD-4"},
    )  # fmt: skip
    assert done.status_code == 302
    token.refresh_from_db()
    assert token.counter == far + 2


def test_the_helpdesk_acts_on_this_persons_tokens_only(
    desk: Client, alice: Any, make_user: Any, clock: FakeClock
) -> None:
    bob = make_user("bob@example.org")
    token = stock_token("TK0105")
    tokens.activate(bob, "TK0105", hotp_code(token, 0), now=clock())
    # Taking Bob's token through Alice's page: refused, Bob keeps it.
    refused = desk.post(
        _url(alice, "release"), {"serial": "TK0105", "why": "lost", "ticket": "HD-5"}
    )
    assert refused.status_code == 400
    token.refresh_from_db()
    assert token.state == State.ACTIVE
    failed = AuditEvent.objects.get(action="helpdesk.method_action", outcome="failure")
    assert failed.data["step"] == "release"


def test_an_agent_cannot_act_on_staff_nor_unknown_actions(
    desk: Client, make_user: Any, alice: Any
) -> None:
    stock_token("TK0106")
    staff = make_user("staff@example.org", is_staff=True)
    assert (
        desk.post(_url(staff, "reserve"), {"serial": "TK0106", "ticket": "HD-6"}).status_code == 403
    )
    assert HardwareToken.objects.get().reserved_for is None
    unknown = desk.post(_url(alice, "explode"), {"ticket": "HD-6"})
    assert unknown.status_code == 400
    no_method = desk.post(
        f"/helpdesk/people/{alice.pk}/methods/nosuch/reserve/", {"ticket": "HD-6"}
    )
    assert no_method.status_code == 404
    # GET never acts.
    assert desk.get(_url(alice, "reserve")).status_code == 405


def test_a_person_without_helpdesk_rights_cannot_post_actions(alice: Any, clock: FakeClock) -> None:
    from tests.helpdesk.conftest import signed_in

    stock_token("TK0107")
    bob_like = signed_in(alice)
    response = bob_like.post(_url(alice, "reserve"), {"serial": "TK0107", "ticket": "HD-7"})
    assert response.status_code in (302, 403)
    assert HardwareToken.objects.get().reserved_for is None
