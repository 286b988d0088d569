"""The RADIUS server under attack and on the edges: every datagram is raw bytes from a socket
(pyrad builds the well-formed ones), the server runs in a thread of this process.

To show that a packet got no answer without waiting for a timeout, each test sends a
Status-Server "probe" after it: the server handles datagrams in order and drops bad ones at
once, so the first answer that arrives must be the probe's.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pyrad import packet

from tests.radius.harness import SECRET, WAIT, ServerThread
from vahva.audit.models import AuditEvent
from vahva.radius import clients
from vahva.radius.packets import RADIUS_DICTIONARY

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "bob@demo.example"


@pytest.fixture
def server(transactional_db: Any) -> Iterator[ServerThread]:
    running = ServerThread().start()
    yield running
    running.stop()


@pytest.fixture
def vpn(server: ServerThread) -> ServerThread:
    clients.add("VPN", addresses=["127.0.0.1/32"], secret=SECRET, mfa_rule="never")
    server.reload()
    return server


class Nas:
    """A RADIUS client socket on a loopback address of its own."""

    def __init__(self, port: int, *, source: str = "127.0.0.1", secret: str = SECRET) -> None:
        self.port = port
        self.secret = secret.encode()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source, 0))
        self.sock.settimeout(WAIT)

    def access(
        self, *, password: str | None = "bob-demo-pass", authenticator: bool = True, **attrs: Any
    ) -> packet.AuthPacket:
        request = packet.AuthPacket(secret=self.secret, dict=RADIUS_DICTIONARY)
        request["User-Name"] = EMAIL
        if password is not None:
            request["User-Password"] = request.PwCrypt(password)
        for key, value in attrs.items():
            request[key.replace("_", "-")] = value
        if authenticator:
            request.add_message_authenticator()
        return request

    def status(self) -> packet.AuthPacket:
        # With the real secret, whatever this socket's: the probe must be answered.
        probe = packet.AuthPacket(
            code=packet.StatusServer, secret=SECRET.encode(), dict=RADIUS_DICTIONARY
        )
        probe.add_message_authenticator()
        return probe

    def send(self, raw: bytes) -> None:
        self.sock.sendto(raw, ("127.0.0.1", self.port))

    def receive(self, request: packet.Packet) -> packet.Packet:
        raw = self.sock.recv(4096)
        reply = request.CreateReply(packet=raw)
        # Every answer is signed: Response Authenticator and Message-Authenticator.
        assert request.VerifyReply(reply, raw, enforce_ma=True)
        return reply

    def ask(self, request: packet.AuthPacket) -> packet.Packet:
        self.send(request.RequestPacket())
        return self.receive(request)

    def nothing_for(self, raw: bytes) -> None:
        """Send ``raw``, then a probe: the probe's answer comes first (``raw`` got none)."""
        self.send(raw)
        probe = self.status()
        self.send(probe.RequestPacket())
        first = self.sock.recv(4096)
        assert first[1] == probe.id, "the bad packet was answered"
        assert probe.VerifyReply(probe.CreateReply(packet=first), first, enforce_ma=True)


def test_status_server_is_answered_with_a_signed_accept(vpn: ServerThread) -> None:
    nas = Nas(vpn.port)
    reply = nas.ask(nas.status())
    assert reply.code == packet.AccessAccept


def test_accounting_is_acknowledged(vpn: ServerThread) -> None:
    nas = Nas(vpn.port)
    request = packet.AcctPacket(secret=nas.secret, dict=RADIUS_DICTIONARY)
    request["User-Name"] = EMAIL
    raw = request.RequestPacket()
    nas.send(raw)
    answer = nas.sock.recv(4096)
    reply = request.CreateReply(packet=answer)
    assert reply.code == packet.AccountingResponse
    assert request.VerifyReply(reply, answer)
    assert not AuditEvent.objects.filter(action__startswith="radius.accept").exists()


def test_access_request_without_message_authenticator_is_dropped(
    vpn: ServerThread, bob: Any
) -> None:
    nas = Nas(vpn.port)
    # BlastRADIUS: an Access-Request without a Message-Authenticator is not answered at all,
    # even with the right password.
    nas.nothing_for(nas.access(authenticator=False).RequestPacket())
    assert vpn.protocol is not None
    assert vpn.protocol.drops["NO_MESSAGE_AUTHENTICATOR"] == 1
    dropped = wait_for_audit("radius.dropped")
    assert dropped.reason == "no Message-Authenticator"
    assert dropped.ip == "127.0.0.1"
    assert not AuditEvent.objects.filter(action="radius.accept").exists()


def test_wrong_secret_and_forged_authenticator_are_dropped(vpn: ServerThread, bob: Any) -> None:
    wrong = Nas(vpn.port, secret="not-the-shared-secret")
    wrong.nothing_for(wrong.access().RequestPacket())
    nas = Nas(vpn.port)
    forged = bytearray(nas.access().RequestPacket())
    forged[-1] ^= 0x01  # the last byte of the Message-Authenticator
    nas.nothing_for(bytes(forged))
    assert vpn.protocol is not None
    assert vpn.protocol.drops["BAD_AUTHENTICATOR"] == 2
    # Many drops from one address: one audit row a minute, not one per packet.
    for _ in range(5):
        nas.nothing_for(bytes(forged))
    assert vpn.protocol.drops["BAD_AUTHENTICATOR"] == 7
    wait_for_audit("radius.dropped")
    assert AuditEvent.objects.filter(action="radius.dropped").count() == 1


def test_unknown_address_is_dropped(server: ServerThread, bob: Any) -> None:
    clients.add("VPN", addresses=["127.0.0.1/32"], secret=SECRET, mfa_rule="never")
    server.reload()
    stranger = Nas(server.port, source="127.0.0.2")
    stranger.send(stranger.access().RequestPacket())
    # The probe from the known address is answered; the stranger's request never is.
    nas = Nas(server.port)
    assert nas.ask(nas.status()).code == packet.AccessAccept
    stranger.sock.settimeout(0.2)
    with pytest.raises(TimeoutError):
        stranger.sock.recv(4096)
    assert server.protocol is not None
    assert server.protocol.drops["UNKNOWN_CLIENT"] == 1


def test_replayed_request_is_answered_from_the_cache_not_processed_twice(
    vpn: ServerThread, bob: Any
) -> None:
    nas = Nas(vpn.port)
    request = nas.access()
    raw = request.RequestPacket()
    nas.send(raw)
    first = nas.sock.recv(4096)
    nas.send(raw)
    again = nas.sock.recv(4096)
    assert again == first
    assert request.CreateReply(packet=first).code == packet.AccessAccept
    assert AuditEvent.objects.filter(action="radius.accept").count() == 1


def test_garbage_never_crashes_the_server_and_is_never_answered(vpn: ServerThread) -> None:
    nas = Nas(vpn.port)
    valid = nas.access().RequestPacket()
    header_only = bytes([1, 7, 0, 20]) + bytes(16)
    samples = [
        b"",
        b"\x01",
        header_only[:19],
        bytes([1, 7, 0xFF, 0xFF]) + bytes(16),  # a length beyond the datagram
        bytes([1, 7, 0, 22]) + bytes(16) + b"\x01\x00",  # an attribute of length 0
        bytes([1, 7, 0, 23]) + bytes(16) + b"\x50\x05\x00",  # a 3-octet Message-Authenticator
        bytes([2]) + valid[1:],  # an Access-Accept sent to the server
        bytes([99]) + valid[1:],  # no such code
        valid[:-5],  # cut short
        b"\x00" * 5000,
    ]
    rng = random.Random(18)
    samples += [rng.randbytes(rng.randrange(0, 200)) for _ in range(100)]
    for _ in range(100):
        flipped = bytearray(valid)
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        samples.append(bytes(flipped))
    for sample in samples:
        nas.nothing_for(sample)
    assert vpn.protocol is not None
    assert vpn.protocol.drops["error"] == 0
    assert nas.ask(nas.status()).code == packet.AccessAccept


def test_a_state_from_another_client_resumes_nothing(
    server: ServerThread, bob: Any, clock: Any
) -> None:
    clients.add("VPN", addresses=["127.0.0.1/32"], secret=SECRET, mfa_rule="always")
    clients.add("Lab", addresses=["127.0.0.2/32"], secret=SECRET, mfa_rule="always")
    server.reload()
    nas = Nas(server.port)
    challenge = nas.ask(nas.access())
    assert challenge.code == packet.AccessChallenge
    state = challenge["State"][0]
    lab = Nas(server.port, source="127.0.0.2")
    reply = lab.ask(lab.access(password=bob.code(clock), State=state))
    assert reply.code == packet.AccessReject
    # A guessed State neither.
    guessed = bytes(state[:-1]) + bytes([state[-1] ^ 1])
    assert nas.ask(nas.access(password=bob.code(clock), State=guessed)).code == packet.AccessReject


@pytest.mark.parametrize("style", ["{password},{code}", "{password}{code}"])
def test_appended_code(server: ServerThread, bob: Any, clock: Any, style: str) -> None:
    clients.add(
        "VPN", addresses=["127.0.0.1/32"], secret=SECRET, mfa_rule="always", appended_codes=True
    )
    server.reload()
    nas = Nas(server.port)
    typed = style.format(password=bob.password, code=bob.code(clock))
    assert nas.ask(nas.access(password=typed)).code == packet.AccessAccept
    accepted = AuditEvent.objects.get(action="radius.accept")
    assert accepted.data["amr"] == ["mfa", "otp", "pwd"]
    # The same code again: single use.
    assert nas.ask(nas.access(password=typed)).code == packet.AccessReject


def test_appended_codes_are_off_unless_the_client_opts_in(
    server: ServerThread, bob: Any, clock: Any
) -> None:
    clients.add("VPN", addresses=["127.0.0.1/32"], secret=SECRET, mfa_rule="always")
    server.reload()
    nas = Nas(server.port)
    reply = nas.ask(nas.access(password=f"{bob.password},{bob.code(clock)}"))
    assert reply.code == packet.AccessReject  # taken as the whole password: wrong


def test_no_pap_password_is_rejected(vpn: ServerThread, bob: Any) -> None:
    nas = Nas(vpn.port)
    request = nas.access(password=None)
    request["CHAP-Password"] = b"\x01" + bytes(16)
    reply = nas.ask(request)
    assert reply.code == packet.AccessReject
    assert reply["Reply-Message"] == ["Sign in with your password."]


def test_trusted_network_by_calling_station(server: ServerThread, bob: Any, settings: Any) -> None:
    settings.VAHVA = {**settings.VAHVA, "TRUSTED_NETWORKS": {"Campus": ["130.233.0.0/16"]}}
    clients.add("VPN", addresses=["127.0.0.1/32"], secret=SECRET)  # outside_trusted
    server.reload()
    nas = Nas(server.port)
    inside = nas.ask(nas.access(Calling_Station_Id="130.233.10.20"))
    assert inside.code == packet.AccessAccept
    outside = nas.ask(nas.access(Calling_Station_Id="192.0.2.1"))
    assert outside.code == packet.AccessChallenge
    unknown = nas.ask(nas.access(Calling_Station_Id="00-11-22-33-44-55"))
    assert unknown.code == packet.AccessChallenge


def wait_for_audit(action: str) -> AuditEvent:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = AuditEvent.objects.filter(action=action).first()
        if found is not None:
            return found
        time.sleep(0.02)  # polling the database with a deadline (written by a pool thread)
    pytest.fail(f"no {action} row")
