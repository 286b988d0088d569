"""The device protocol's pure core: keys, signatures, the signed message, freshness, numbers,
push endpoints. Functions of strings, bytes and a clock reading; no ORM, no request.

**Keys.** A device holds an ECDSA key pair on P-256 (WebCrypto ``{name: "ECDSA",
namedCurve: "P-256"}``, created non-extractable). It registers the public key as a JWK
(RFC 7517/7518 §6.2: ``{"kty": "EC", "crv": "P-256", "x", "y"}``) or as base64 of the DER
SubjectPublicKeyInfo (RFC 5480, what ``exportKey("spki")`` gives). vahva stores the SPKI.

**Signatures.** ECDSA with SHA-256 in the IEEE P1363 form that WebCrypto's ``sign()``
produces (W3C Web Cryptography API, ECDSA "Sign" operation: the signature is the 32-byte
big-endian r followed by the 32-byte s), sent as base64url without padding. The ASN.1/DER form
that OpenSSL produces is refused, so a signature has one encoding only.

**Signed requests.** Every request but enrolment carries four headers::

    Vahva-Device:    <device id>
    Vahva-Timestamp: <Unix time in whole seconds>
    Vahva-Nonce:     <16-64 characters of base64url, fresh for every request>
    Vahva-Signature: <base64url(r || s)>

and the signature covers these lines joined with ``\\n`` (UTF-8, no trailing newline)::

    vahva-device-v1
    <device id>              (empty when enrolling: the device has no id yet)
    <HTTP method, upper case>
    <path and query, as sent, e.g. /api/device/v1/pending>
    <timestamp>
    <nonce>
    <lower-case hex SHA-256 of the body bytes (of the empty string for GET/DELETE)>

A request older or newer than ``DEVICE_REQUEST_WINDOW`` seconds is refused, and a nonce is
accepted once per device: a captured request cannot be sent again. The body of an answer
(``{challenge, nonce, decision, number, timestamp}``) is covered by its hash, so the answer
itself is signed by the device's key.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import ipaddress
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django.utils.translation import gettext_lazy as _

from vahva.errors import MalformedInput

from .errors import BadSignature, EndpointNotAllowed, StaleRequest

VERSION = "vahva-device-v1"
#: The order of the P-256 group (FIPS 186-4 D.1.2.3): r and s must lie in [1, N - 1].
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
HEADER_DEVICE = "Vahva-Device"
HEADER_TIMESTAMP = "Vahva-Timestamp"
HEADER_NONCE = "Vahva-Nonce"
HEADER_SIGNATURE = "Vahva-Signature"
DECISIONS = ("approve", "deny", "report")

_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_CODE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def new_totp_secret() -> str:
    """A 160-bit TOTP secret in base32 (RFC 4226 §4), for the app's offline code."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii")


#: Address ranges of local networks (RFC 1918, RFC 6598 shared space, RFC 4193 unique local).
_LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


def coarse_location(ip: str | None) -> str:
    """Roughly where an address is, as far as vahva can tell without a location database:
    "this-computer", "local-network", or "" (somewhere on the internet). A code, not text:
    the app says it in the phone's language."""
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return ""
    if address.is_loopback:
        return "this-computer"
    if address.is_link_local or any(address in net for net in _LOCAL_NETWORKS):
        return "local-network"
    return ""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    """Strict base64url (padding optional); MalformedInput for anything else."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text):
        raise MalformedInput()
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise MalformedInput() from None


# --- keys and signatures -------------------------------------------------------------------


def _p256(key: object) -> ec.EllipticCurvePublicKey:
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise MalformedInput(_("The public key must be an ECDSA P-256 key."))
    return key


def load_public_key(value: object) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from a JWK object or base64(url) SPKI DER; MalformedInput else.

    The point is checked to lie on the curve (``cryptography`` does), so an invalid-curve key
    cannot be registered.
    """
    bad = MalformedInput(_("The public key must be an ECDSA P-256 key."))
    if isinstance(value, Mapping):
        if "d" in value:
            # A private key has no business travelling to the server; refuse rather than store.
            raise MalformedInput(_("Send the public key only."))
        if value.get("kty") != "EC" or value.get("crv") != "P-256":
            raise bad
        x, y = b64url_decode(str(value.get("x", ""))), b64url_decode(str(value.get("y", "")))
        if len(x) != 32 or len(y) != 32:
            raise bad
        try:
            numbers = ec.EllipticCurvePublicNumbers(
                int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
            )
            return numbers.public_key()
        except ValueError:
            raise bad from None
    if isinstance(value, str) and 0 < len(value) <= 400:
        text = value.strip()
        try:
            if _B64.fullmatch(text):
                der = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
            else:
                der = b64url_decode(text)
            return _p256(serialization.load_der_public_key(der))
        except (binascii.Error, ValueError, TypeError, MalformedInput):
            raise bad from None
    raise bad


def spki(key: ec.EllipticCurvePublicKey) -> str:
    """The stored form of a public key: base64url of its DER SubjectPublicKeyInfo."""
    return b64url(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def load_spki(stored: str) -> ec.EllipticCurvePublicKey:
    return _p256(serialization.load_der_public_key(b64url_decode(stored)))


def signed_message(
    *, device: str, method: str, path: str, timestamp: int, nonce: str, body: bytes
) -> bytes:
    """The bytes a device signs for one request (see the module docstring)."""
    return "\n".join(
        [
            VERSION,
            device,
            method.upper(),
            path,
            str(timestamp),
            nonce,
            hashlib.sha256(body).hexdigest(),
        ]
    ).encode()


def verify_signature(key: ec.EllipticCurvePublicKey, message: bytes, signature: str) -> None:
    """Check a base64url r||s signature over ``message``; BadSignature when it does not hold."""
    try:
        raw = b64url_decode(signature)
    except MalformedInput:
        raise BadSignature() from None
    if len(raw) != 64:
        raise BadSignature()
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    if not (0 < r < P256_ORDER and 0 < s < P256_ORDER):
        raise BadSignature()
    try:
        key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise BadSignature() from None


def parse_timestamp(text: str) -> int:
    if not isinstance(text, str) or not _TIMESTAMP.fullmatch(text):
        raise StaleRequest()
    return int(text)


def check_fresh(timestamp: int, *, now: dt.datetime, window: int) -> None:
    """A request signed more than ``window`` seconds away from ``now`` is refused.

    Together with the one-time nonce this bounds replay: a captured request is useless after
    the window, and inside it its nonce has been seen.
    """
    if abs(now.timestamp() - timestamp) > window:
        raise StaleRequest()


def check_nonce(text: str) -> str:
    if not isinstance(text, str) or not _NONCE.fullmatch(text):
        raise BadSignature()
    return text


# --- enrolment codes, challenge numbers and nonces -----------------------------------------


def new_enrolment_code() -> str:
    """A one-time enrolment code: 192 random bits, base64url (32 characters)."""
    return secrets.token_urlsafe(24)


def hash_code(code: str) -> str:
    """How an enrolment code is stored. A fast hash is enough: the code has 192 random bits,
    so nothing can be guessed from the hash, and a database dump does not reveal live codes."""
    return hashlib.sha256(code.encode()).hexdigest()


def check_code(code: object) -> str:
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise MalformedInput(_("The enrolment code is not right. Scan the QR code again."))
    return code


def new_number() -> int:
    """The two-digit number shown in the browser and typed into the app (10-99)."""
    return 10 + secrets.randbelow(90)


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def parse_number(value: object) -> int:
    """The number the person typed: two digits, as a JSON number or a string."""
    if isinstance(value, bool):
        raise MalformedInput(_("Type the two-digit number shown on the sign-in page."))
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 3:
        number = int(value)
    else:
        raise MalformedInput(_("Type the two-digit number shown on the sign-in page."))
    if not 10 <= number <= 99:
        raise MalformedInput(_("Type the two-digit number shown on the sign-in page."))
    return number


def clean_device_name(value: object) -> str:
    """A device's name for lists: no control or direction-changing characters, 1-100 long."""
    if not isinstance(value, str):
        raise MalformedInput(_("Give the device a name, for example “My phone”."))
    name = " ".join(_CONTROL.sub("", " ".join(value.split())).split())[:100]
    if not name:
        raise MalformedInput(_("Give the device a name, for example “My phone”."))
    return name


def effective_state(state: str, *, expires_at: dt.datetime, now: dt.datetime) -> str:
    """A pending challenge past its expiry is expired, whether or not the row says so yet."""
    if state == "pending" and expires_at <= now:
        return "expired"
    return state


# --- Web Push subscriptions ----------------------------------------------------------------


def _numeric_host(host: str) -> bool:
    # "127.1", "2130706433" or "0x7f.0.0.1": not addresses to ipaddress, but to the C
    # resolver (inet_aton) they are 127.0.0.1. A real top-level domain is never numeric.
    last = host.rsplit(".", 1)[-1]
    return last.isdigit() or last.startswith("0x")


def check_push_endpoint(endpoint: object, *, allow_private: bool) -> str:
    """A Web Push endpoint vahva may POST to later; EndpointNotAllowed otherwise.

    SSRF: the endpoint comes from the device, and the server will send requests to it. Only
    https to a public DNS name is accepted: no http, no address literals (private, loopback,
    link-local or any other), no ``localhost``, no single-label intranet names, no user info.
    A public name can still resolve to a private address; delivery checks the resolved
    address again before connecting.
    """
    if not isinstance(endpoint, str) or not 0 < len(endpoint) <= 2048:
        raise EndpointNotAllowed()
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        raise EndpointNotAllowed() from None
    host = (parts.hostname or "").rstrip(".")
    if not host or parts.username is not None or parts.password is not None:
        raise EndpointNotAllowed()
    if allow_private:
        if parts.scheme not in ("https", "http"):
            raise EndpointNotAllowed()
        return endpoint
    if parts.scheme != "https" or port not in (None, 443):
        raise EndpointNotAllowed()
    if not host.isascii() or any(c in host for c in "%\\@ "):
        raise EndpointNotAllowed()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise EndpointNotAllowed()
    if host == "localhost" or host.endswith(".localhost") or "." not in host:
        raise EndpointNotAllowed()
    if _numeric_host(host) or host.endswith((".local", ".internal", ".lan", ".home.arpa")):
        raise EndpointNotAllowed()
    return endpoint


def check_push_subscription(value: Mapping[str, Any], *, allow_private: bool) -> dict[str, Any]:
    """A browser's PushSubscription JSON (Push API §5), checked and reduced to what is used."""
    endpoint = check_push_endpoint(value.get("endpoint"), allow_private=allow_private)
    keys = value.get("keys")
    if not isinstance(keys, Mapping):
        raise MalformedInput(_("The push subscription has no keys."))
    p256dh = b64url_decode(str(keys.get("p256dh", "")))
    auth = b64url_decode(str(keys.get("auth", "")))
    # RFC 8291 §3.2: an uncompressed P-256 point (65 bytes) and a 16-byte authentication secret.
    if len(p256dh) != 65 or p256dh[0] != 4 or len(auth) != 16:
        raise MalformedInput(_("The push subscription's keys are not valid."))
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:
        raise MalformedInput(_("The push subscription's keys are not valid.")) from None
    return {"endpoint": endpoint, "keys": {"p256dh": b64url(p256dh), "auth": b64url(auth)}}
