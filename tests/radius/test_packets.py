"""The pure parts: packet parsing and answers, State, appended codes, client lookup, the
replay cache."""

from __future__ import annotations

import uuid

import pytest
from pyrad import packet

from vahva.radius import clients, packets
from vahva.radius.clients import KnownClient
from vahva.radius.exchange import split_appended
from vahva.radius.models import Prompt
from vahva.radius.packets import Code, Drop, DropReason, Request
from vahva.radius.server import ReplayCache
from vahva.signin.requirements import ServiceRule

SECRET = b"sixteen-octets-or-more"


def request(**attrs: object) -> packet.AuthPacket:
    built = packet.AuthPacket(secret=SECRET, dict=packets.RADIUS_DICTIONARY)
    built["User-Name"] = "alice@example.org"
    built["User-Password"] = built.PwCrypt("pass word")
    for key, value in attrs.items():
        built[key.replace("_", "-")] = value
    built.add_message_authenticator()
    return built


def test_parse_reads_the_password_and_the_person_address() -> None:
    parsed = packets.parse(request(Calling_Station_Id=" 192.0.2.9 ").RequestPacket(), SECRET)
    assert isinstance(parsed, Request)
    assert parsed.code == Code.ACCESS_REQUEST
    assert parsed.user_name == "alice@example.org"
    assert parsed.password == "pass word"
    assert parsed.person_ip == "192.0.2.9"
    assert parsed.state is None


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({"Calling_Station_Id": "00-11-22-33-44-55"}, None),  # a MAC address says nothing
        ({"Calling_Station_Id": "+358401234567"}, None),
        ({"Calling_Station_Id": "2001:db8::1"}, "2001:db8::1"),
        ({"Framed_IP_Address": "10.8.0.6"}, "10.8.0.6"),
        ({"Calling_Station_Id": "mac", "Framed_IP_Address": "10.8.0.6"}, "10.8.0.6"),
        ({}, None),
    ],
)
def test_person_ip(attrs: dict[str, str], expected: str | None) -> None:
    parsed = packets.parse(request(**attrs).RequestPacket(), SECRET)
    assert isinstance(parsed, Request)
    assert parsed.person_ip == expected


def test_parse_drops() -> None:
    unsigned = packet.AuthPacket(secret=SECRET, dict=packets.RADIUS_DICTIONARY)
    unsigned["User-Name"] = "alice@example.org"
    assert packets.parse(unsigned.RequestPacket(), SECRET) == Drop(
        DropReason.NO_MESSAGE_AUTHENTICATOR
    )
    assert packets.parse(request().RequestPacket(), b"another-secret-altogether") == Drop(
        DropReason.BAD_AUTHENTICATOR
    )
    assert packets.parse(b"\x01\x02", SECRET) == Drop(DropReason.MALFORMED)
    accept = bytes([2]) + request().RequestPacket()[1:]
    assert packets.parse(accept, SECRET) == Drop(DropReason.UNEXPECTED)


def test_reply_is_signed_and_long_messages_are_split() -> None:
    sent = request(Proxy_State=b"hop-1")
    parsed = packets.parse(sent.RequestPacket(), SECRET)
    assert isinstance(parsed, Request)
    state = packets.make_state(uuid.uuid4(), "t" * 32)
    message = "Avaa vahva-sovellus ja kirjoita luku 47. " * 12  # over 253 octets, with ä-free text
    raw = packets.reply(parsed, Code.ACCESS_CHALLENGE, message=message + "ä", state=state)
    answer = sent.CreateReply(packet=raw)
    assert sent.VerifyReply(answer, raw, enforce_ma=True)
    assert answer.code == packet.AccessChallenge
    assert b"".join(answer[18]).decode() == message + "ä"
    assert answer[24] == [state]
    assert answer[33] == [b"hop-1"]  # Proxy-State copied back for the proxy


def test_state_round_trip_and_foreign_states() -> None:
    attempt = uuid.uuid4()
    assert packets.read_state(packets.make_state(attempt, "token")) == (attempt, "token")
    assert packets.read_state(b"someone-else's-state") is None
    assert packets.read_state(packets.STATE_TAG + b"short") is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("secret,123456", ("secret", "123456")),
        ("secret123456", ("secret", "123456")),
        ("pass,word,654321", ("pass,word", "654321")),
        ("secret", ("secret", None)),
        ("123456", ("123456", None)),  # a code alone is not a password and a code
        ("secret12345", ("secret12345", None)),
        # OpenVPN's static-challenge (SCRV1): base64 of the password, then of the response.
        ("SCRV1:c2VjcmV0:MTIzNDU2", ("secret", "123456")),
        ("SCRV1:c2VjcmV0:", ("secret", None)),
        ("SCRV1:c2VjcmV0:cHVzaA==", ("secret", None)),
        ("SCRV1:not base64:MTIzNDU2", ("SCRV1:not base64:MTIzNDU2", None)),
    ],
)
def test_split_appended(typed: str, expected: tuple[str, str | None]) -> None:
    assert split_appended(typed) == expected


def known(pk: int, *networks: str) -> KnownClient:
    return KnownClient(
        pk=pk,
        name=f"c{pk}",
        networks=tuple(clients.parse_addresses(networks)),
        secret=SECRET,
        service="VPN",
        rule=ServiceRule.ALWAYS,
        prompt=Prompt.CHALLENGE,
        appended_codes=False,
    )


def test_client_for_picks_the_most_specific_block() -> None:
    wide, narrow = known(1, "10.0.0.0/8"), known(2, "10.1.2.3/32", "2001:db8::/32")
    assert clients.client_for([wide, narrow], "10.1.2.3") is narrow
    assert clients.client_for([wide, narrow], "10.9.9.9") is wide
    assert clients.client_for([wide, narrow], "2001:db8::5") is narrow
    assert clients.client_for([wide, narrow], "192.0.2.1") is None
    assert clients.client_for([wide, narrow], "not an address") is None


def test_replay_cache_window_and_size() -> None:
    cache = ReplayCache(30.0, size=2)
    key = (1, "127.0.0.1", 7, b"a" * 16)
    assert cache.seen(key, 0.0) == (False, None)
    assert cache.seen(key, 1.0) == (True, None)  # still being handled
    cache.answered(key, b"answer", 2.0)
    assert cache.seen(key, 29.0) == (True, b"answer")
    assert cache.seen(key, 31.0) == (False, None)  # outside the window: a new request
    for n in range(5):
        cache.seen((1, "127.0.0.1", n, b"b" * 16), 40.0)
    assert len(cache) == 2
