"""Web Push to the vahva app (RFC 8030 delivery, RFC 8291 encryption, RFC 8292 VAPID).

The server's VAPID key pair is made at first use and kept in the database, its private half
encrypted at rest (:class:`.models.VapidKey`); every node signs with the same key.

A push says only "challenge <id> waits" (no number, no context): the app fetches the details
with its signed API, so a push service reading along learns nothing worth having. The body is
encrypted anyway (RFC 8291 ``aes128gcm``, by pywebpush/http_ece), as every push service requires.

**SSRF.** The endpoint URL comes from the device, so it is untrusted: it is checked when the
subscription is stored (:func:`.protocol.check_push_endpoint`) and again here before every
connection, because a public name can later resolve to a private address. The name is resolved
once, every address it resolves to must be global, and the connection goes to the address that
was checked (TLS still verifies the certificate for the name); redirects are not followed.
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import json
import logging
import socket
import ssl
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import urllib3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import IntegrityError, transaction
from py_vapid import Vapid
from pywebpush import WebPusher

from vahva import clock
from vahva.conf import settings

from . import protocol
from .errors import EndpointNotAllowed
from .models import Device, PushChallenge, VapidKey

log = logging.getLogger(__name__)

#: One key pair per deployment: a fixed primary key, so two nodes starting at once cannot
#: both create one (the loser's INSERT fails and it reads the winner's).
VAPID_KEY_ID = 1
#: Seconds to connect to a push service, and again to wait for its answer: a slow or silent
#: push service costs a delivery worker this long, never the sign-in.
TIMEOUT = 5.0
#: How long a VAPID token is valid. RFC 8292 §2: no more than 24 hours from the request.
VAPID_LIFETIME = dt.timedelta(hours=12)
#: Statuses of devices that receive pushes (an enrolled one gets its test notification).
PUSHED_STATUSES = (Device.Status.ACTIVE, Device.Status.ENROLLED)
#: RFC 8030 §7.3: the subscription has expired or was removed; sending again is pointless.
GONE = frozenset({404, 410})


def vapid_key() -> VapidKey:
    """The deployment's VAPID key pair, made on first use."""
    found = VapidKey.objects.filter(pk=VAPID_KEY_ID).first()
    if found is not None:
        return found
    private = ec.generate_private_key(ec.SECP256R1())
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    try:
        with transaction.atomic():
            return VapidKey.objects.create(
                pk=VAPID_KEY_ID,
                public_key=protocol.b64url(point),
                private_key=pem,
                created_at=clock.now(),
            )
    except IntegrityError:
        return VapidKey.objects.get(pk=VAPID_KEY_ID)


def application_server_key() -> str:
    """What the app passes to ``pushManager.subscribe({applicationServerKey})``."""
    return vapid_key().public_key


# --- what is sent --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A device to push to and its subscription (``{"endpoint", "keys": {"p256dh", "auth"}}``)."""

    device_id: uuid.UUID
    subscription: Mapping[str, Any]


@dataclass(frozen=True)
class PushMessage:
    """One encrypted push, ready for the wire (RFC 8030 §5)."""

    endpoint: str
    headers: Mapping[str, str]
    body: bytes


class Outcome(enum.StrEnum):
    SENT = "sent"
    #: 404/410: the subscription is gone and has been forgotten.
    GONE = "gone"
    #: The endpoint failed the SSRF checks; nothing was sent.
    REFUSED = "refused"
    #: Any other answer, a timeout or a connection error; the app still polls.
    FAILED = "failed"


def subject() -> str:
    """RFC 8292 §2.1 ``sub``: whom a push service contacts about this server's pushes."""
    if settings.VAPID_SUBJECT:
        return str(settings.VAPID_SUBJECT)
    if settings.HELPDESK_EMAIL:
        return f"mailto:{settings.HELPDESK_EMAIL}"
    return str(settings.PUBLIC_URL)


def origin(endpoint: str) -> str:
    """RFC 8292 §2: ``aud`` is the origin of the push resource (scheme, host, any port)."""
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port is not None else "")


def vapid_claims(endpoint: str, *, now: dt.datetime) -> dict[str, str | int]:
    # exp bounds how long a token captured at (or leaked by) a push service can be replayed.
    expires = int((now + VAPID_LIFETIME).timestamp())
    return {"aud": origin(endpoint), "exp": expires, "sub": subject()}


def vapid_authorization(endpoint: str, *, now: dt.datetime) -> str:
    """The ``Authorization: vapid t=<JWT>, k=<public key>`` header value (RFC 8292 §3)."""
    key = serialization.load_pem_private_key(vapid_key().private_key.encode(), password=None)
    # "no-strict": py_vapid's own check of `sub` refuses an https URL with a port.
    signer = Vapid(private_key=key, conf={"no-strict": True})
    headers = signer.sign(vapid_claims(endpoint, now=now))
    return str(headers["Authorization"])


def payload(challenge_id: uuid.UUID) -> bytes:
    """The push's plaintext: which challenge waits and what for (a sign-in, the helpdesk's
    check); no number and nothing secret."""
    purpose = (
        PushChallenge.objects.filter(pk=challenge_id).values_list("purpose", flat=True).first()
    )
    body = {
        "type": "challenge",
        "challenge": str(challenge_id),
        "purpose": purpose or PushChallenge.Purpose.SIGNIN,
        "organisation": settings.ORGANISATION_NAME,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def build(
    subscription: Mapping[str, Any], data: bytes, *, now: dt.datetime, ttl: int
) -> PushMessage:
    """Encrypt ``data`` for the subscription (RFC 8291, ``aes128gcm``) and sign with VAPID."""
    endpoint = str(subscription["endpoint"])
    encoded = WebPusher(subscription).encode(data, content_encoding="aes128gcm")
    headers = {
        "TTL": str(ttl),
        # RFC 8030 §5.3: someone is waiting at a sign-in page; wake the phone now.
        "Urgency": "high",
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "Authorization": vapid_authorization(endpoint, now=now),
    }
    return PushMessage(endpoint=endpoint, headers=headers, body=bytes(encoded["body"]))


# --- where it is sent ----------------------------------------------------------------------

#: IPv6 prefixes that carry an IPv4 address in their last 32 bits (RFC 6052 NAT64).
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def is_public_address(text: str) -> bool:
    """Is ``text`` an address on the public internet (and not one that leads back inside)?"""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    # Private, loopback, link-local (169.254.169.254: cloud metadata), shared, reserved,
    # unspecified and documentation ranges are not global. Multicast ranges can count as
    # global but are never a push service.
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        # ::ffff:127.0.0.1, 2002:7f00:1:: (6to4) or 64:ff9b::7f00:1 (NAT64) reach an IPv4
        # address inside: judge the address they carry.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and any(address in net for net in _NAT64):
            embedded = ipaddress.IPv4Address(address.packed[-4:])
        if embedded is not None:
            return is_public_address(str(embedded))
    return True


def resolve(host: str, port: int, *, allow_private: bool) -> str:
    """The one address of ``host`` that delivery connects to; EndpointNotAllowed when the name
    does not resolve or any of its addresses is not public."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise EndpointNotAllowed() from None
    addresses = [str(sockaddr[0]) for *_, sockaddr in found]
    if not addresses:
        raise EndpointNotAllowed()
    # A name with one public and one private address could be connected to either: all must
    # be public (DNS rebinding with several A records).
    if not allow_private and not all(is_public_address(a) for a in addresses):
        raise EndpointNotAllowed()
    return addresses[0]


class Sender(Protocol):
    def __call__(self, message: PushMessage) -> int:
        """POST the message; return the push service's HTTP status (raise on no answer)."""


class PinnedSender:
    """POST a push to its endpoint over a connection to the address that was checked."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, timeout: float = TIMEOUT):
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.timeout = urllib3.Timeout(connect=timeout, read=timeout)

    def __call__(self, message: PushMessage) -> int:
        allow_private = bool(settings.PUSH_ALLOW_PRIVATE_ENDPOINTS)
        # Checked again at every delivery: the rules (or the setting) may have changed since
        # the subscription was stored.
        protocol.check_push_endpoint(message.endpoint, allow_private=allow_private)
        parts = urlsplit(message.endpoint)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = resolve(host, port, allow_private=allow_private)
        pool: urllib3.HTTPConnectionPool
        # DNS rebinding: the pool connects to `address`, the one just checked, and never
        # resolves the name again (a second lookup could answer 127.0.0.1).
        if parts.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address,
                port,
                timeout=self.timeout,
                retries=False,
                maxsize=1,
                # The certificate must still be valid for the name, not for the address: a
                # pinned address does not let anyone else answer for the push service.
                server_hostname=host,
                assert_hostname=host,
                ssl_context=self.ssl_context,
            )
        else:  # http: only with PUSH_ALLOW_PRIVATE_ENDPOINTS (check_push_endpoint said so)
            pool = urllib3.HTTPConnectionPool(
                address, port, timeout=self.timeout, retries=False, maxsize=1
            )
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            response = pool.urlopen(
                "POST",
                path,
                body=message.body,
                headers={**message.headers, "Host": parts.netloc},
                # SSRF by redirect: a 307 to http://169.254.169.254/ must not be followed.
                redirect=False,
                # No retries either: a Retry object would follow redirects after all.
                retries=False,
                # Only the status matters: a body streamed forever is never read.
                preload_content=False,
            )
            status = int(response.status)
            response.close()
            return status
        finally:
            pool.close()


_sender: Sender = PinnedSender()


def install_sender(sender: Sender | None) -> None:
    """Replace how pushes are sent (tests); ``None`` restores the default."""
    global _sender
    _sender = sender or PinnedSender()


# --- delivery ------------------------------------------------------------------------------


def targets(device_ids: Iterable[uuid.UUID]) -> list[Target]:
    """The devices among ``device_ids`` that receive pushes and have a subscription."""
    found = Device.objects.filter(pk__in=list(device_ids), status__in=PUSHED_STATUSES).exclude(
        push_subscription=""
    )
    result = []
    for device in found.only("id", "push_subscription"):
        try:
            subscription = json.loads(device.push_subscription)
        except ValueError:
            log.warning("device %s: stored push subscription is not JSON", device.pk)
            continue
        if isinstance(subscription, dict) and "endpoint" in subscription:
            result.append(Target(device_id=device.pk, subscription=subscription))
    return result


def forget(target: Target) -> bool:
    """Clear a subscription the push service says is gone; False if it changed meanwhile."""
    with transaction.atomic():
        device = Device.objects.select_for_update().filter(pk=target.device_id).first()
        if device is None or not device.push_subscription:
            return False
        # A new subscription stored while this push was in flight is not the one that is gone.
        if json.loads(device.push_subscription) != dict(target.subscription):
            return False
        device.push_subscription = ""
        device.save(update_fields=["push_subscription"])
        return True


def send(
    challenge_id: uuid.UUID, target: Target, *, now: dt.datetime, sender: Sender | None = None
) -> Outcome:
    """Push to one device. Never raises: every failure is logged and returned."""
    try:
        message = build(target.subscription, payload(challenge_id), now=now, ttl=settings.PUSH_TTL)
        status = (sender or _sender)(message)
    except EndpointNotAllowed:
        log.warning("device %s: push endpoint refused (not a public address)", target.device_id)
        return Outcome.REFUSED
    except Exception as exc:
        # A push service down, slow or speaking nonsense is never the sign-in's problem.
        log.warning("device %s: web push failed: %r", target.device_id, exc)
        return Outcome.FAILED
    if 200 <= status < 300:
        return Outcome.SENT
    if status in GONE:
        log.info("device %s: push subscription gone (%s), forgetting it", target.device_id, status)
        try:
            forget(target)
        except Exception:
            log.exception("device %s: could not forget the push subscription", target.device_id)
        return Outcome.GONE
    log.warning("device %s: push service answered %s", target.device_id, status)
    return Outcome.FAILED


def deliver(
    challenge_id: uuid.UUID,
    found: Sequence[Target],
    *,
    now: dt.datetime,
    sender: Sender | None = None,
) -> dict[uuid.UUID, Outcome]:
    """Push to each target in turn; the outcome per device."""
    return {t.device_id: send(challenge_id, t, now=now, sender=sender) for t in found}


def notify(
    challenge_id: uuid.UUID,
    device_ids: Sequence[uuid.UUID],
    *,
    now: dt.datetime,
    sender: Sender | None = None,
) -> dict[uuid.UUID, Outcome]:
    """Send a Web Push about a new challenge to each of ``device_ids`` that has a
    subscription (synchronously; :func:`.delivery.dispatch` runs this in the background)."""
    return deliver(challenge_id, targets(device_ids), now=now, sender=sender)
