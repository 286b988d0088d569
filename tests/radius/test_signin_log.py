"""RADIUS outcomes in the helpdesk's sign-in log, with the policy's reason and the service."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from pyrad import packet

from tests.radius.harness import SECRET, ServerThread
from tests.radius.test_server import Nas
from vahva.radius import clients

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(transactional_db: Any) -> Iterator[ServerThread]:
    running = ServerThread().start()
    clients.add("VPN", addresses=["127.0.0.1/32"], secret=SECRET, mfa_rule="never")
    running.reload()
    yield running
    running.stop()


def test_accepted_and_rejected_requests_are_in_the_sign_in_log(
    server: ServerThread, bob: Any, admin_client: Any
) -> None:
    nas = Nas(server.port)
    assert nas.ask(nas.access()).code == packet.AccessAccept
    assert nas.ask(nas.access(password="wrong")).code == packet.AccessReject
    page = admin_client.get("/helpdesk/sign-ins/?service=VPN")
    assert page.status_code == 200
    body = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.content.decode()))
    assert "Accepted (RADIUS)" in body
    assert "Rejected (RADIUS)" in body
    assert "No second step: the service VPN never asks for one." in body  # the policy's reason
    assert "bob@demo.example" in body
    assert "Password only" in body
