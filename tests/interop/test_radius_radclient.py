"""radclient (FreeRADIUS's own client, nobody here wrote it) against vahva's RADIUS server.

The server runs on a loop in a thread of this process (tests/radius/harness.py), so it sees the
test database, the clock the test installs and the in-process event bus that the device API
(the live server) publishes approvals on.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.radius.harness import SECRET, ServerThread, radclient
from vahva.audit.models import AuditEvent
from vahva.radius import clients

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("radclient") is None, reason="needs freeradius-utils"),
]


@pytest.fixture
def server(transactional_db: Any) -> Iterator[ServerThread]:
    running = ServerThread().start()
    yield running
    running.stop()


def add_client(server: ServerThread, **options: Any) -> None:
    clients.add("VPN", addresses=["127.0.0.1/32"], secret=SECRET, **options)
    server.reload()


def test_password_only_when_the_rule_is_never(server: ServerThread, bob: Any) -> None:
    add_client(server, mfa_rule="never")
    code, reply = radclient(
        server.port, SECRET, {"User-Name": bob.email, "User-Password": bob.password}
    )
    assert code == "Access-Accept", reply
    assert "Message-Authenticator" in reply
    accepted = AuditEvent.objects.get(action="radius.accept")
    assert accepted.subject_email == bob.email
    assert accepted.data["client"] == "VPN"
    assert accepted.data["amr"] == ["pwd"]
    assert accepted.reason


def test_wrong_password_is_rejected(server: ServerThread, bob: Any) -> None:
    add_client(server, mfa_rule="never")
    code, reply = radclient(server.port, SECRET, {"User-Name": bob.email, "User-Password": "nope"})
    assert code == "Access-Reject"
    assert reply["Reply-Message"] == "The e-mail address or the password is not right."
    assert AuditEvent.objects.filter(action="radius.reject", outcome="failure").count() == 1


def test_password_and_code_through_the_challenge(
    server: ServerThread, bob: Any, clock: Any
) -> None:
    add_client(server, mfa_rule="always")
    code, reply = radclient(
        server.port, SECRET, {"User-Name": bob.email, "User-Password": bob.password}
    )
    assert code == "Access-Challenge", reply
    assert reply["Reply-Message"] == "Enter the code from your authenticator app"
    state = reply["State"]
    assert isinstance(state, bytes)
    wrong = "000000" if bob.code(clock) != "000000" else "111111"
    code, reply = radclient(
        server.port, SECRET, {"User-Name": bob.email, "User-Password": wrong, "State": state}
    )
    assert code == "Access-Reject", reply
    assert reply["Reply-Message"] == "That code is not right. Check the code and try again."
    # The Reject ended the exchange: the same State takes no second guess, not even the right
    # code.
    code, reply = radclient(
        server.port,
        SECRET,
        {"User-Name": bob.email, "User-Password": bob.code(clock), "State": state},
    )
    assert code == "Access-Reject", reply
    assert reply["Reply-Message"] == "Your sign-in has expired. Start again."
    # A new sign-in starts with the password.
    code, reply = radclient(
        server.port, SECRET, {"User-Name": bob.email, "User-Password": bob.password}
    )
    assert code == "Access-Challenge"
    code, reply = radclient(
        server.port,
        SECRET,
        {"User-Name": bob.email, "User-Password": bob.code(clock), "State": reply["State"]},
    )
    assert code == "Access-Accept", reply
    accepted = AuditEvent.objects.get(action="radius.accept")
    assert accepted.data["amr"] == ["mfa", "otp", "pwd"]
    assert AuditEvent.objects.filter(action="radius.mfa", outcome="failure").count() == 1
