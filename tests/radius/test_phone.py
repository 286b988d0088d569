"""The phone methods over RADIUS: a text sent as the challenge is, its code answered with the
State; a call answered with # while the VPN's second request waits."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pyrad import packet

from tests.radius.harness import SECRET, WAIT, ServerThread
from tests.radius.test_server import Nas
from vahva.audit.models import AuditEvent
from vahva.gateways import dev
from vahva.gateways.models import DevCall, DevText
from vahva.methods import service
from vahva.radius import clients

pytestmark = pytest.mark.django_db(transaction=True)

NUMBER = "+358441234521"


@pytest.fixture
def server(transactional_db: Any) -> Iterator[ServerThread]:
    running = ServerThread().start()
    clients.add("VPN", addresses=["127.0.0.1/32"], secret=SECRET, mfa_rule="always")
    running.reload()
    yield running
    running.stop()


def with_phone(user: Any, kind: str, clock: Any) -> None:
    service.save_new(
        user, kind, now=clock() - dt.timedelta(hours=1), data={"number": NUMBER, "language": "en"}
    )


def test_a_texted_code_through_the_challenge(server: ServerThread, alice: Any, clock: Any) -> None:
    with_phone(alice, "sms", clock)
    nas = Nas(server.port)
    request = nas.access(password="correct horse battery")
    request["User-Name"] = alice.email
    challenge = nas.ask(request)
    assert challenge.code == packet.AccessChallenge
    assert challenge["Reply-Message"] == ["Enter the code we texted to your phone"]
    (text,) = DevText.objects.filter(number=NUMBER)
    code = re.search(r"\b(\d{6})\b", text.text)
    assert code, text.text
    answer = nas.access(password=code.group(1), State=challenge["State"][0])
    answer["User-Name"] = alice.email
    assert nas.ask(answer).code == packet.AccessAccept
    assert AuditEvent.objects.get(action="radius.accept").data["amr"] == ["mfa", "pwd", "sms"]


def test_a_call_answered_with_hash(server: ServerThread, alice: Any, clock: Any) -> None:
    with_phone(alice, "voice", clock)
    nas = Nas(server.port)
    request = nas.access(password="correct horse battery")
    request["User-Name"] = alice.email
    challenge = nas.ask(request)
    assert challenge.code == packet.AccessChallenge
    assert challenge["Reply-Message"] == [
        "We're calling your phone. Answer it and press # to continue"
    ]
    # The VPN's second request (the answer field left empty) waits for the call.
    waiting = nas.access(password="", State=challenge["State"][0])
    waiting["User-Name"] = alice.email
    answers: list[int] = []
    asked = threading.Thread(target=lambda: answers.append(int(nas.ask(waiting).code)))
    asked.start()
    call = DevCall.objects.get(number=NUMBER)
    dev.act(call, "answer")
    dev.act(DevCall.objects.get(pk=call.pk), "key", "#")
    asked.join(WAIT)
    assert answers == [packet.AccessAccept]
    assert AuditEvent.objects.get(action="radius.accept").data["amr"] == ["mfa", "pwd", "tel"]


@pytest.mark.parametrize(
    ("appended", "message"),
    [
        (True, "Add the code to the end of your password (password,123456)."),
        (False, "Use the vahva app to sign in here: this VPN cannot ask for a code."),
    ],
)
def test_a_client_without_prompts_sends_no_text_it_cannot_ask_for(
    transactional_db: Any, alice: Any, clock: Any, appended: bool, message: str
) -> None:
    running = ServerThread().start()
    try:
        clients.add(
            "VPN",
            addresses=["127.0.0.1/32"],
            secret=SECRET,
            mfa_rule="always",
            prompt="wait",
            appended_codes=appended,
        )
        running.reload()
        with_phone(alice, "sms", clock)
        nas = Nas(running.port)
        request = nas.access(password="correct horse battery")
        request["User-Name"] = alice.email
        reply = nas.ask(request)
        assert reply.code == packet.AccessReject
        assert reply["Reply-Message"] == [message]
        assert not DevText.objects.exists()
    finally:
        running.stop()
