"""The protocol's pure core: keys, P1363 signatures, the signed message, freshness, SSRF."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.authenticator.device import TestDevice, b64url, message, p1363
from vahva.authenticator import protocol
from vahva.authenticator.errors import BadSignature, EndpointNotAllowed, StaleRequest
from vahva.errors import MalformedInput

NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def test_signed_message_is_pinned() -> None:
    """The exact bytes a device signs: a change here breaks every deployed app."""
    body = b'{"a":1}'
    got = protocol.signed_message(
        device="d1", method="post", path="/api/device/v1/answer?x=1", timestamp=1772438400,
        nonce="n" * 16, body=body,
    )  # fmt: skip
    assert got == (
        b"vahva-device-v1\nd1\nPOST\n/api/device/v1/answer?x=1\n1772438400\nnnnnnnnnnnnnnnnn\n"
        b"015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"
    )
    assert got == message("d1", "POST", "/api/device/v1/answer?x=1", 1772438400, "n" * 16, body)


def test_p1363_signature_verifies() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    signature = p1363(key, b"hello")
    assert len(base64.urlsafe_b64decode(signature + "==")) == 64
    protocol.verify_signature(key.public_key(), b"hello", signature)


def test_signatures_that_must_fail() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    good = p1363(key, b"hello")
    raw = base64.urlsafe_b64decode(good + "==")
    der = b64url(key.sign(b"hello", ec.ECDSA(hashes.SHA256())))
    order = protocol.P256_ORDER.to_bytes(32, "big")
    for bad in (
        p1363(key, b"hellO"),  # another message
        p1363(other, b"hello"),  # another key
        der,  # DER (OpenSSL's form) is not accepted: one encoding only
        good[:-4],  # truncated
        b64url(raw + b"\x00"),  # too long
        b64url(bytes(32) + raw[32:]),  # r = 0
        b64url(order + raw[32:]),  # r = n
        b64url(raw[:32] + order),  # s = n
        "!!!!",
        "",
    ):
        with pytest.raises(BadSignature):
            protocol.verify_signature(key.public_key(), b"hello", bad)


def test_public_key_as_jwk_and_spki() -> None:
    device = TestDevice()
    from_jwk = protocol.load_public_key(device.jwk())
    from_spki = protocol.load_public_key(device.spki())
    from_b64url = protocol.load_public_key(device.spki().replace("+", "-").replace("/", "_"))
    assert protocol.spki(from_jwk) == protocol.spki(from_spki) == protocol.spki(from_b64url)
    assert protocol.load_spki(protocol.spki(from_jwk)).public_numbers() == (
        device.key.public_key().public_numbers()
    )


def test_bad_public_keys() -> None:
    device = TestDevice()
    jwk = device.jwk()
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    p384_spki = base64.b64encode(
        p384.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    off_curve = {**jwk, "y": b64url((int.from_bytes(base64.urlsafe_b64decode(
        jwk["y"] + "=="), "big") ^ 1).to_bytes(32, "big"))}  # fmt: skip
    for bad in (
        {**jwk, "crv": "P-384"},
        {**jwk, "kty": "RSA"},
        {**jwk, "d": "private!"},
        {**jwk, "x": "short"},
        off_curve,
        p384_spki,
        "not base64 at all ✗",
        "A" * 500,
        "",
        42,
        None,
        ["list"],
    ):
        with pytest.raises(MalformedInput):
            protocol.load_public_key(bad)


def test_freshness_window() -> None:
    ts = int(NOW.timestamp())
    protocol.check_fresh(ts - 120, now=NOW, window=120)
    protocol.check_fresh(ts + 120, now=NOW, window=120)
    for stale in (ts - 121, ts + 121, 0):
        with pytest.raises(StaleRequest):
            protocol.check_fresh(stale, now=NOW, window=120)
    for garbage in ("", "-5", "1.5", "\uff11\uff12", "9" * 13, "12a"):
        with pytest.raises(StaleRequest):
            protocol.parse_timestamp(garbage)


def test_nonce_format() -> None:
    assert protocol.check_nonce("a" * 16) == "a" * 16
    for bad in ("short", "a" * 65, "a b" * 8, "ä" * 20, ""):
        with pytest.raises(BadSignature):
            protocol.check_nonce(bad)


def test_numbers() -> None:
    assert {protocol.new_number() for _ in range(2000)} == set(range(10, 100))
    assert protocol.parse_number(42) == 42
    assert protocol.parse_number("42") == 42
    for bad in (None, True, 9, 100, "07", "4 2", "", "x", "\uff11\uff12", 4.2, "0042"):
        with pytest.raises(MalformedInput):
            protocol.parse_number(bad)


def test_device_names_are_cleaned() -> None:
    assert protocol.clean_device_name("  My\tphone \n") == "My phone"
    # Bidirectional overrides would let a name display as something else in lists.
    assert protocol.clean_device_name("evil\u202egnp.exe") == "evilgnp.exe"
    assert len(protocol.clean_device_name("x" * 500)) == 100
    for bad in ("", "   ", "\x00\x01", None, 5):
        with pytest.raises(MalformedInput):
            protocol.clean_device_name(bad)


def test_effective_state() -> None:
    later = NOW + dt.timedelta(seconds=60)
    assert protocol.effective_state("pending", expires_at=later, now=NOW) == "pending"
    assert protocol.effective_state("pending", expires_at=later, now=later) == "expired"
    assert protocol.effective_state("approved", expires_at=later, now=later) == "approved"


ALLOWED = [
    "https://fcm.googleapis.com/fcm/send/abc:def",
    "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
    "https://web.push.apple.com/QGj0",
    "https://push.example.org:443/x",
]
REFUSED = [
    "http://fcm.googleapis.com/fcm/send/x",  # not https
    "https://10.0.0.5/push",  # private
    "https://192.168.1.1/push",
    "https://172.16.0.1/push",
    "https://127.0.0.1/push",  # loopback
    "https://[::1]/push",
    "https://169.254.169.254/latest/meta-data/",  # link-local (cloud metadata)
    "https://[fe80::1]/push",
    "https://[::ffff:127.0.0.1]/push",  # IPv4-mapped loopback
    "https://100.64.0.1/push",  # carrier-grade NAT
    "https://0.0.0.0/push",
    "https://8.8.8.8/push",  # any address literal: push services have names
    "https://localhost/push",
    "https://LOCALHOST./push",
    "https://api.localhost/push",
    "https://intranet/push",  # single label: resolved through the local search domain
    "https://2130706433/push",  # 127.0.0.1 as one number
    "https://127.1/push",  # 127.0.0.1, shortened
    "https://0x7f.0.0.1/push",
    "https://printer.local/push",
    "https://fcm.googleapis.com@127.0.0.1/push",  # user info hides the real host
    "https://user:pw@push.example.org/x",
    "https://push.example.org:8443/x",
    "ftp://push.example.org/x",
    "https:///nohost",
    "https://[::1/broken",
    "javascript:alert(1)",
    "",
    "https://push.example.org/" + "x" * 3000,
]


@pytest.mark.parametrize("endpoint", ALLOWED)
def test_public_https_push_endpoints_are_allowed(endpoint: str) -> None:
    assert protocol.check_push_endpoint(endpoint, allow_private=False) == endpoint


@pytest.mark.parametrize("endpoint", REFUSED)
def test_ssrf_push_endpoints_are_refused(endpoint: str) -> None:
    with pytest.raises(EndpointNotAllowed):
        protocol.check_push_endpoint(endpoint, allow_private=False)


def test_override_allows_a_local_receiver() -> None:
    local = "http://127.0.0.1:8089/push/1"
    assert protocol.check_push_endpoint(local, allow_private=True) == local
    with pytest.raises(EndpointNotAllowed):
        protocol.check_push_endpoint("file:///etc/passwd", allow_private=True)


def test_push_subscription_keys() -> None:
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    good = {"endpoint": ALLOWED[0], "keys": {"p256dh": b64url(point), "auth": b64url(bytes(16))}}
    assert protocol.check_push_subscription(good, allow_private=False)["endpoint"] == ALLOWED[0]
    for keys in (
        {"p256dh": b64url(point[:-1]), "auth": b64url(bytes(16))},
        {"p256dh": b64url(b"\x04" + bytes(64)), "auth": b64url(bytes(16))},  # not on the curve
        {"p256dh": b64url(point), "auth": b64url(bytes(8))},
        {"p256dh": "!!", "auth": b64url(bytes(16))},
        "not an object",
    ):
        with pytest.raises(MalformedInput):
            protocol.check_push_subscription({**good, "keys": keys}, allow_private=False)
