"""Web Push delivery: a challenge made through the service reaches a local push service as an
RFC 8291 message the subscription's keys decrypt, signed with VAPID (RFC 8292); gone
subscriptions are forgotten, failures never reach the sign-in, and private addresses are never
connected to, whatever the endpoint's name resolves to."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import http_ece
import pytest
import urllib3.util.connection
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connection

from tests.authenticator.device import API, TestDevice
from tests.authenticator.push_receiver import (
    PushReceiver,
    Subscription,
    b64url,
    b64url_decode,
    check_vapid,
    running,
    tls_pair,
)
from vahva.authenticator import delivery, service, webpush
from vahva.authenticator.models import Device, PushChallenge
from vahva.conf import settings as vahva_settings

# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def private_endpoints(settings: Any) -> None:
    """A local push receiver is a private address: allowed for these tests only."""
    settings.VAHVA = {**settings.VAHVA, "PUSH_ALLOW_PRIVATE_ENDPOINTS": True}


@pytest.fixture
def receiver() -> Iterator[PushReceiver]:
    with running() as found:
        yield found


@pytest.fixture(autouse=True)
def _default_sender() -> Iterator[None]:
    yield
    webpush.install_sender(None)


def subscribe(phone: TestDevice, subscription: Subscription) -> None:
    """The app stores its subscription through the signed device API, as on a phone."""
    body = json.dumps(subscription.as_json()).encode()
    response = phone.send("PUT", f"{API}/device/push-subscription", body)
    assert response.status_code == 200, response.content


def stored(phone: TestDevice) -> str:
    return str(Device.objects.get(pk=phone.id).push_subscription)


def sign_in_push(alice: Any, phone: TestDevice, push: Callable[..., PushChallenge]) -> Any:
    """Make a sign-in push through the service and wait for its delivery to finish."""
    challenge = push(alice, phone)
    assert delivery.flush(10)
    return challenge


# --- the whole path ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_endpoints")
def test_sign_in_push_arrives_encrypted_and_signed(
    alice: Any,
    phone: TestDevice,
    push: Callable[..., PushChallenge],
    receiver: PushReceiver,
    clock: Any,
) -> None:
    subscription = Subscription(receiver.url("/push/alice-phone?x=1"))
    subscribe(phone, subscription)
    challenge = sign_in_push(alice, phone, push)

    (request,) = receiver.received
    assert request.path == "/push/alice-phone?x=1"
    assert request.headers["Content-Encoding"] == "aes128gcm"
    assert request.headers["TTL"] == str(vahva_settings.PUSH_TTL)
    assert request.headers["Urgency"] == "high"
    assert request.headers["Host"] == f"127.0.0.1:{receiver.port}"
    # RFC 8291 §4: the browser's keys (and only they) decrypt the body.
    message = json.loads(subscription.decrypt(request.body))
    assert message == {
        "type": "challenge",
        "challenge": str(challenge.pk),
        "purpose": "signin",
        "organisation": "Demo University",
    }
    # No number, no nonce in the push: the app fetches them with its signed API.
    # (The exact message above says so already; a bare substring check would trip on a
    # challenge id that happens to contain the number's digits.)
    assert str(challenge.number) not in message.values()
    assert "number" not in message
    assert challenge.nonce not in json.dumps(message)
    claims = check_vapid(
        request.headers["Authorization"],
        server_key=webpush.application_server_key(),
        audience=receiver.origin,
        now=clock(),
    )
    assert claims["sub"] == "mailto:helpdesk@demo.example"
    # Someone else's keys do not decrypt it.
    with pytest.raises(http_ece.ECEException):
        Subscription(subscription.endpoint).decrypt(request.body)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_endpoints")
def test_every_device_with_a_subscription_gets_one(
    alice: Any,
    make_phone: Callable[..., TestDevice],
    push: Callable[..., PushChallenge],
    receiver: PushReceiver,
) -> None:
    phones = [make_phone(alice, "Phone"), make_phone(alice, "Tablet"), make_phone(alice, "Old")]
    subscriptions = [Subscription(receiver.url(f"/push/{n}")) for n in range(2)]
    for phone, subscription in zip(phones, subscriptions, strict=False):
        subscribe(phone, subscription)
    challenge = push(alice, *phones)
    assert delivery.flush(10)
    by_path = {r.path: r for r in receiver.received}
    assert sorted(by_path) == ["/push/0", "/push/1"]  # the third phone has no subscription
    for n, subscription in enumerate(subscriptions):
        body = json.loads(subscription.decrypt(by_path[f"/push/{n}"].body))
        assert body["challenge"] == str(challenge.pk)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_endpoints")
@pytest.mark.parametrize("status", [404, 410])
def test_a_gone_subscription_is_forgotten(
    alice: Any,
    phone: TestDevice,
    push: Callable[..., PushChallenge],
    receiver: PushReceiver,
    status: int,
    clock: Any,
) -> None:
    subscribe(phone, Subscription(receiver.url()))
    receiver.status = status
    challenge = sign_in_push(alice, phone, push)
    assert len(receiver.received) == 1
    assert stored(phone) == ""
    # The sign-in goes on: the app still finds the challenge by polling.
    assert [c["id"] for c in phone.challenges()] == [str(challenge.pk)]
    # And the next push (once this one expired) does not try the dead endpoint again.
    clock.advance(vahva_settings.PUSH_TTL)
    push(alice, phone)
    assert delivery.flush(10)
    assert len(receiver.received) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_endpoints")
def test_a_failing_push_service_does_not_break_the_sign_in(
    alice: Any,
    phone: TestDevice,
    push: Callable[..., PushChallenge],
    receiver: PushReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    subscribe(phone, Subscription(receiver.url()))
    receiver.status = 500
    with caplog.at_level(logging.WARNING, logger="vahva.authenticator.webpush"):
        challenge = sign_in_push(alice, phone, push)
    assert len(receiver.received) == 1
    assert "answered 500" in caplog.text
    assert stored(phone) != ""  # a server error is not a gone subscription
    (pending,) = phone.challenges()
    assert phone.answer(pending, "approve", challenge.number).status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_endpoints")
def test_a_silent_push_service_times_out_without_holding_up_the_sign_in(
    alice: Any,
    phone: TestDevice,
    push: Callable[..., PushChallenge],
    receiver: PushReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    subscribe(phone, Subscription(receiver.url()))
    webpush.install_sender(webpush.PinnedSender(timeout=0.3))
    receiver.release.clear()  # the push service takes the request and never answers
    with caplog.at_level(logging.WARNING, logger="vahva.authenticator.webpush"):
        challenge = push(alice, phone)
        # The sign-in already has its challenge while the push is still in flight.
        assert receiver.arrived.wait(10)
        assert PushChallenge.objects.get(pk=challenge.pk).state == "pending"
        assert delivery.flush(10)  # the worker gave up after its timeout
    assert "timed out" in caplog.text.lower()
    assert stored(phone) != ""
    (pending,) = phone.challenges()
    assert phone.answer(pending, "approve", challenge.number).status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_endpoints")
def test_redirects_are_not_followed(
    alice: Any, phone: TestDevice, push: Callable[..., PushChallenge], receiver: PushReceiver
) -> None:
    with running() as elsewhere:
        subscribe(phone, Subscription(receiver.url()))
        receiver.status = 307
        receiver.answer_headers = {"Location": elsewhere.url("/latest/meta-data/")}
        sign_in_push(alice, phone, push)
        assert len(receiver.received) == 1
        assert elsewhere.connections == 0
    assert stored(phone) != ""


@pytest.mark.django_db(transaction=True)
def test_no_worker_job_without_a_subscription(
    alice: Any,
    phone: TestDevice,
    push: Callable[..., PushChallenge],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jobs: list[object] = []
    monkeypatch.setattr(delivery._worker, "submit", jobs.append)
    push(alice, phone)
    assert jobs == []


# --- SSRF at delivery ----------------------------------------------------------------------


class Network:
    """Stands in for the network below urllib3: records where connections go and carries them
    all to one local server instead."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.attempts: list[tuple[str, int]] = []

    def create_connection(self, address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        self.attempts.append(address)
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)


def resolver(answers: dict[str, list[list[str]]]) -> Callable[..., Any]:
    """A getaddrinfo that answers names from ``answers``: one list of addresses per lookup, in
    turn (the last one repeats). Other names (127.0.0.1 itself) resolve as usual."""
    real = socket.getaddrinfo
    asked: dict[str, int] = {}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            return real(host, port, *args, **kwargs)
        turn = asked.get(host, 0)
        asked[host] = turn + 1
        addresses = answers[host][min(turn, len(answers[host]) - 1)]
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (a, port),
            )
            for a in addresses
        ]

    getaddrinfo.asked = asked  # type: ignore[attr-defined]
    return getaddrinfo


def device_with(alice: Any, subscription: Subscription, clock: Any) -> Device:
    """A device whose subscription is stored as-is (the subscription-time checks were passed
    earlier, or under other rules)."""
    point = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = point.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Device.objects.create(
        user=alice,
        name="Phone",
        public_key=b64url(der),
        status=Device.Status.ACTIVE,
        created_at=clock(),
        push_subscription=json.dumps(subscription.as_json()),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["10.0.0.5"],
        ["169.254.169.254"],
        ["::1"],
        ["::ffff:127.0.0.1"],
        ["93.184.216.34", "192.168.1.1"],  # one public address is not enough
    ],
)
def test_a_name_resolving_inside_is_never_connected_to(
    alice: Any,
    clock: Any,
    receiver: PushReceiver,
    monkeypatch: pytest.MonkeyPatch,
    addresses: list[str],
) -> None:
    """The endpoint passed the subscription-time checks (https, a public-looking name), but
    the name now resolves to a private address: no connection is even attempted."""
    network = Network(receiver.port)
    monkeypatch.setattr(urllib3.util.connection, "create_connection", network.create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", resolver({"push.example.com": [addresses]}))
    device = device_with(alice, Subscription("https://push.example.com/push/abc"), clock)
    outcome = webpush.notify(uuid.uuid4(), [device.pk], now=clock())
    assert outcome == {device.pk: webpush.Outcome.REFUSED}
    assert network.attempts == []
    assert receiver.connections == 0
    assert Device.objects.get(pk=device.pk).push_subscription != ""


@pytest.mark.django_db
def test_the_network_stand_in_would_have_seen_a_connection(
    alice: Any,
    clock: Any,
    receiver: PushReceiver,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    """The control for the test above: with the guard off, the same setup does connect (to the
    pinned address), so "no connection" there means the guard held."""
    settings.VAHVA = {**settings.VAHVA, "PUSH_ALLOW_PRIVATE_ENDPOINTS": True}
    network = Network(receiver.port)
    monkeypatch.setattr(urllib3.util.connection, "create_connection", network.create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", resolver({"push.example.com": [["127.0.0.1"]]}))
    device = device_with(alice, Subscription("http://push.example.com/push/abc"), clock)
    assert webpush.notify(uuid.uuid4(), [device.pk], now=clock()) == {
        device.pk: webpush.Outcome.SENT
    }
    assert network.attempts == [("127.0.0.1", 80)]
    assert receiver.received[0].headers["Host"] == "push.example.com"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "endpoint",
    ["http://push.example.com/x", "https://127.0.0.1/x", "https://push.example.com:8443/x"],
)
def test_endpoint_rules_are_checked_again_at_delivery(
    alice: Any,
    clock: Any,
    receiver: PushReceiver,
    monkeypatch: pytest.MonkeyPatch,
    endpoint: str,
) -> None:
    """Stored while private endpoints were allowed (or before a rule was added): refused now."""
    network = Network(receiver.port)
    monkeypatch.setattr(urllib3.util.connection, "create_connection", network.create_connection)
    device = device_with(alice, Subscription(endpoint), clock)
    assert webpush.notify(uuid.uuid4(), [device.pk], now=clock()) == {
        device.pk: webpush.Outcome.REFUSED
    }
    assert network.attempts == []


@pytest.mark.django_db
def test_dns_rebinding_meets_the_checked_address(
    alice: Any, clock: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The name resolves to a public address when checked and to 127.0.0.1 on any later
    lookup. The connection goes to the checked address, over TLS with the name's SNI, Host and
    certificate: there is no later lookup."""
    server_tls, client_tls = tls_pair("push.example.com", tmp_path)
    with running(server_tls) as receiver:
        network = Network(receiver.port)
        monkeypatch.setattr(urllib3.util.connection, "create_connection", network.create_connection)
        lookups = resolver({"push.example.com": [["93.184.216.34"], ["127.0.0.1"]]})
        monkeypatch.setattr(socket, "getaddrinfo", lookups)
        webpush.install_sender(webpush.PinnedSender(ssl_context=client_tls))
        subscription = Subscription("https://push.example.com/push/abc")
        device = device_with(alice, subscription, clock)
        assert webpush.notify(uuid.uuid4(), [device.pk], now=clock()) == {
            device.pk: webpush.Outcome.SENT
        }
        assert network.attempts == [("93.184.216.34", 443)]
        assert lookups.asked == {"push.example.com": 1}  # type: ignore[attr-defined]
        (request,) = receiver.received
        assert request.sni == "push.example.com"
        assert request.headers["Host"] == "push.example.com"
        assert json.loads(subscription.decrypt(request.body))["type"] == "challenge"
        check_vapid(
            request.headers["Authorization"],
            server_key=webpush.application_server_key(),
            audience="https://push.example.com",
            now=clock(),
        )


@pytest.mark.django_db
def test_a_certificate_for_another_name_is_refused(
    alice: Any, clock: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Pinning the address does not weaken TLS: the certificate must be for the endpoint's name."""
    server_tls, client_tls = tls_pair("evil.example.net", tmp_path)
    with running(server_tls) as receiver:
        network = Network(receiver.port)
        monkeypatch.setattr(urllib3.util.connection, "create_connection", network.create_connection)
        monkeypatch.setattr(
            socket, "getaddrinfo", resolver({"push.example.com": [["93.184.216.34"]]})
        )
        webpush.install_sender(webpush.PinnedSender(ssl_context=client_tls))
        device = device_with(alice, Subscription("https://push.example.com/push/abc"), clock)
        assert webpush.notify(uuid.uuid4(), [device.pk], now=clock()) == {
            device.pk: webpush.Outcome.FAILED
        }
        assert receiver.received == []


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT (RFC 6598)
        ("169.254.169.254", False),  # cloud metadata
        ("0.0.0.0", False),  # noqa: S104 (an address to refuse, not one to bind)
        ("255.255.255.255", False),
        ("224.0.0.1", False),  # multicast
        ("192.0.2.1", False),  # documentation
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b::5db8:d822", True),  # NAT64 of 93.184.216.34
        ("not an address", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert webpush.is_public_address(address) is public


# --- VAPID ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_vapid_private_key_is_encrypted_at_rest() -> None:
    key = webpush.vapid_key()
    assert "BEGIN PRIVATE KEY" in key.private_key
    body = "".join(key.private_key.strip().splitlines()[1:-1])
    with connection.cursor() as cursor:
        cursor.execute("SELECT private_key FROM authenticator_vapidkey")
        (raw,) = cursor.fetchone()
    assert raw.startswith("k1$")
    assert "PRIVATE KEY" not in raw
    assert body[:40] not in raw
    # The public half matches the private one.
    private = serialization.load_pem_private_key(key.private_key.encode(), password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert b64url(point) == webpush.application_server_key()


@pytest.mark.parametrize(
    ("overrides", "subject"),
    [
        ({"VAPID_SUBJECT": "https://mfa.example.org/contact"}, "https://mfa.example.org/contact"),
        ({}, "mailto:helpdesk@demo.example"),
        (
            {"HELPDESK_EMAIL": "", "PUBLIC_URL": "https://mfa.example.org"},
            "https://mfa.example.org",
        ),
    ],
)
def test_vapid_subject(settings: Any, overrides: dict[str, str], subject: str) -> None:
    settings.VAHVA = {**settings.VAHVA, **overrides}
    assert webpush.subject() == subject


@pytest.mark.django_db
def test_vapid_token_names_the_push_service_origin_and_expires_within_a_day() -> None:
    now = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
    endpoint = "https://fcm.googleapis.com/fcm/send/abc:def"
    claims = check_vapid(
        webpush.vapid_authorization(endpoint, now=now),
        server_key=webpush.application_server_key(),
        audience="https://fcm.googleapis.com",
        now=now,
    )
    assert claims["exp"] == int((now + webpush.VAPID_LIFETIME).timestamp())
    assert webpush.origin("https://Push.Example.com:8443/a/b?c") == "https://push.example.com:8443"


# --- RFC 8291 §5, the specification's own example ------------------------------------------

RFC8291 = {
    "plaintext": b"When I grow up, I want to be a watermelon",
    "as_private": "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw",
    "as_public": (
        "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
    ),
    "ua_private": "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94",
    "ua_public": (
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
    ),
    "auth": "BTBZMqHH6r4Tts7J_aSIgg",
    "salt": "DGv6ra1nlYgDCS1FRnbzlw",
    "body": (
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml"
        "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT"
        "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
    ),
}


def rfc_key(private: str, public: str) -> ec.EllipticCurvePrivateKey:
    key = ec.derive_private_key(int.from_bytes(b64url_decode(private), "big"), ec.SECP256R1())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert b64url(point) == public  # the example's key pairs belong together
    return key


def test_rfc8291_example_decrypts() -> None:
    subscription = Subscription(
        "https://push.example.net/push/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV",
        key=rfc_key(RFC8291["ua_private"], RFC8291["ua_public"]),
        auth=b64url_decode(RFC8291["auth"]),
    )
    assert subscription.decrypt(b64url_decode(RFC8291["body"])) == RFC8291["plaintext"]


def test_rfc8291_example_encrypts_byte_for_byte() -> None:
    """With the example's ephemeral key and salt, http_ece (what pywebpush encrypts with)
    produces the RFC's message exactly."""
    body = http_ece.encrypt(
        RFC8291["plaintext"],
        salt=b64url_decode(RFC8291["salt"]),
        private_key=rfc_key(RFC8291["as_private"], RFC8291["as_public"]),
        dh=b64url_decode(RFC8291["ua_public"]),
        auth_secret=b64url_decode(RFC8291["auth"]),
        version="aes128gcm",
    )
    assert b64url(body) == RFC8291["body"]


def test_what_webpush_builds_is_what_a_browser_decrypts(db: Any) -> None:
    subscription = Subscription("https://push.example.net/push/abc")
    now = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
    message = webpush.build(subscription.as_json(), b"hello", now=now, ttl=60)
    assert subscription.decrypt(message.body) == b"hello"
    # RFC 8188 §2.1 header: salt (16), record size, key id = the sender's ephemeral key.
    assert message.body[20] == 65
    assert message.body[21] == 4


# --- forgetting ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_forget_keeps_a_subscription_renewed_meanwhile(alice: Any, clock: Any) -> None:
    old = Subscription("https://push.example.com/old")
    device = device_with(alice, old, clock)
    target = webpush.Target(device_id=device.pk, subscription=old.as_json())
    new = Subscription("https://push.example.com/new").as_json()
    service.set_push_subscription(device, new)
    assert webpush.forget(target) is False
    assert json.loads(Device.objects.get(pk=device.pk).push_subscription) == new
    assert webpush.forget(webpush.Target(device_id=device.pk, subscription=new)) is True
    assert Device.objects.get(pk=device.pk).push_subscription == ""


@pytest.mark.django_db
def test_removed_devices_are_not_pushed(alice: Any, clock: Any) -> None:
    device = device_with(alice, Subscription("https://push.example.com/x"), clock)
    assert [t.device_id for t in webpush.targets([device.pk])] == [device.pk]
    Device.objects.filter(pk=device.pk).update(status=Device.Status.REMOVED)
    assert webpush.targets([device.pk]) == []
