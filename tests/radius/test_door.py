"""Every Access-Accept passes the door: what the policy says of staff, of people without a
method, of passkey-only services, and the throttles and single use under attack."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pyrad import packet

from tests.radius.harness import SECRET, ServerThread
from tests.radius.test_server import Nas
from vahva.audit.models import AuditEvent
from vahva.radius import clients

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(transactional_db: Any) -> Iterator[ServerThread]:
    running = ServerThread().start()
    yield running
    running.stop()


def vpn(server: ServerThread, rule: str) -> Nas:
    clients.add("VPN", addresses=["127.0.0.1/32"], secret=SECRET, mfa_rule=rule)
    server.reload()
    return Nas(server.port)


def test_staff_always_get_a_second_factor(server: ServerThread, bob: Any) -> None:
    bob.user.is_staff = True
    bob.user.save()
    nas = vpn(server, "never")
    # The service's "never" does not skip it for an account that can reach other people's.
    assert nas.ask(nas.access()).code == packet.AccessChallenge


def test_no_method_yet_is_refused_where_a_second_factor_is_required(
    server: ServerThread, make_user: Any
) -> None:
    make_user("carol@demo.example", "carol-pass-word")
    nas = vpn(server, "always")
    request = nas.access(password="carol-pass-word")
    request["User-Name"] = "carol@demo.example"
    reply = nas.ask(request)
    assert reply.code == packet.AccessReject
    assert (
        "no sign-in method yet" in reply["Reply-Message"][0]
        or "/setup" in reply["Reply-Message"][0]
    )
    rejected = AuditEvent.objects.get(action="radius.reject")
    assert rejected.subject_email == "carol@demo.example"
    assert rejected.reason


def test_a_passkey_only_service_refuses_codes(server: ServerThread, bob: Any) -> None:
    nas = vpn(server, "phishing_resistant")
    reply = nas.ask(nas.access())
    assert reply.code == packet.AccessReject
    assert reply["Reply-Message"] == ["VPN accepts only a security key or passkey."]


def test_password_guessing_is_throttled(server: ServerThread, bob: Any) -> None:
    nas = vpn(server, "never")
    answers = [nas.ask(nas.access(password=f"guess {n}")) for n in range(7)]
    assert all(a.code == packet.AccessReject for a in answers)
    assert "Too many failed attempts" in answers[-1]["Reply-Message"][0]
    # Throttled before the hash: the right password waits as well.
    assert nas.ask(nas.access()).code == packet.AccessReject


def test_one_code_finishes_one_sign_in_even_sent_twice_at_once(
    server: ServerThread, bob: Any, clock: Any
) -> None:
    nas = vpn(server, "always")
    challenge = nas.ask(nas.access())
    state = challenge["State"][0]
    code = bob.code(clock)

    def answer(_n: int) -> int:
        own = Nas(server.port)
        return int(own.ask(own.access(password=code, State=state)).code)

    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(answer, range(4)))
    assert codes.count(packet.AccessAccept) == 1, codes
    assert AuditEvent.objects.filter(action="radius.accept").count() == 1


def test_a_person_with_only_a_passkey_is_told_what_to_add(
    server: ServerThread, make_user: Any, clock: Any
) -> None:
    import datetime as dt

    from vahva.methods import service

    carol = make_user("carol@demo.example", "carol-pass-word")
    service.save_new(carol, "webauthn", now=clock() - dt.timedelta(hours=1), data={})
    nas = vpn(server, "always")
    request = nas.access(password="carol-pass-word")
    request["User-Name"] = "carol@demo.example"
    reply = nas.ask(request)
    assert reply.code == packet.AccessReject
    assert reply["Reply-Message"] == [
        "A security key or passkey cannot be used here. Add the vahva app or an authenticator "
        "app at http://localhost:8000/security-info, then try again."
    ]
