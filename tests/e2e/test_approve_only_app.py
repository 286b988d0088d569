"""The vahva app in a phone's browser answering an approve-only request: a VPN in RADIUS wait
mode (it cannot show a number) asks with Alice's password, the phone shows "Approve sign-in
to VPN from 192.0.2.7?" with no number field, and Approve lets the VPN in; Deny keeps it out.
The RADIUS server runs on a loop in a thread of this process, beside the live server, with the
test's FakeClock and in-process event bus."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pyrad import packet

from tests.e2e.conftest import ALICE, PASSWORD, BrowserProblems, assert_every_control_labelled
from tests.e2e.test_push_app import (  # noqa: F401 (phones, public_url: fixtures)
    WAIT,
    Phone,
    phones,
    public_url,
    signed_in_with_an_app,
)
from tests.radius.harness import SECRET, ServerThread
from tests.radius.test_server import Nas
from vahva.radius import clients

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def vpn_sign_in(port: int, replies: list[packet.Packet]) -> threading.Thread:
    """The VPN's Access-Request with Alice's password, waiting for the app in a thread."""
    nas = Nas(port)
    request = nas.access(password=PASSWORD, User_Name=ALICE, Calling_Station_Id="192.0.2.7")
    asked = threading.Thread(target=lambda: replies.append(nas.ask(request)))
    asked.start()
    return asked


@pytest.mark.parametrize(("button", "code"), [("Approve", 2), ("Deny", 3)])
def test_an_approve_only_request_on_the_phone(
    live_server: Any,
    page: Page,
    phones: Callable[..., Phone],  # noqa: F811 (the fixture imported above)
    make_user: Callable[..., Any],
    problems: BrowserProblems,
    button: str,
    code: int,
) -> None:
    make_user(email=ALICE)
    phone = phones()
    signed_in_with_an_app(page, phone, live_server.url)
    clients.add(
        "VPN",
        addresses=["127.0.0.1/32"],
        secret=SECRET,
        mfa_rule="always",
        prompt="wait",
        approve_only=True,
    )
    server = ServerThread().start()
    try:
        replies: list[packet.Packet] = []
        asked = vpn_sign_in(server.port, replies)
        card = phone.request()
        expect(card.get_by_text("Approve sign-in to VPN from 192.0.2.7?")).to_be_visible()
        expect(card.get_by_text("cannot show a number, so there is none to type")).to_be_visible()
        # No number to type: the field is not there for the person (or a screen reader).
        expect(card.get_by_label("Number shown where you are signing in")).to_be_hidden()
        expect(card.get_by_role("button", name="Deny and report")).to_be_visible()
        assert_every_control_labelled(phone.page)
        phone.answer_card(card, None, button)
        result = "Approved" if button == "Approve" else "Denied. Nobody was signed in."
        expect(card.get_by_text(result, exact=True)).to_be_visible(timeout=WAIT)
        asked.join(WAIT / 1000)
        assert [reply.code for reply in replies] == [code]
    finally:
        server.stop()
    problems.assert_none()
