"""A local push service for tests: a real HTTP(S) server on 127.0.0.1 that records what it is
sent, and a browser-side subscription that can decrypt it (RFC 8291, with http_ece) and check
its VAPID header (RFC 8292, verified here with ``cryptography`` alone, not with py_vapid)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import http_ece
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    """One request the push service got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    sni: str | None = None


@dataclass
class Subscription:
    """The browser's side of a push subscription: a P-256 key pair and a 16-byte secret."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def as_json(self) -> dict[str, Any]:
        """What ``PushSubscription.toJSON()`` gives."""
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> bytes:
        """RFC 8291 §3.4 on the user agent's side: the header carries the sender's public key."""
        return bytes(
            http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        )


class VapidError(AssertionError):
    pass


def check_vapid(
    authorization: str, *, server_key: str, audience: str, now: dt.datetime
) -> dict[str, Any]:
    """Check ``Authorization: vapid t=<JWT>, k=<key>`` as a push service does (RFC 8292 §3);
    return the JWT's claims."""
    scheme, _, params = authorization.partition(" ")
    if scheme.lower() != "vapid":
        raise VapidError(f"scheme {scheme!r}")
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    if parts.get("k") != server_key:
        raise VapidError("k is not the server's application server key")
    header_b64, claims_b64, signature_b64 = parts["t"].split(".")
    header = json.loads(b64url_decode(header_b64))
    if header.get("alg") != "ES256":
        raise VapidError(f"alg {header!r}")
    point = b64url_decode(parts["k"])
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    raw = b64url_decode(signature_b64)
    if len(raw) != 64:
        raise VapidError("an ES256 signature is r || s, 64 bytes (RFC 7518 §3.4)")
    signature = encode_dss_signature(
        int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    )
    try:
        key.verify(signature, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise VapidError("the JWT signature does not verify") from None
    claims: dict[str, Any] = json.loads(b64url_decode(claims_b64))
    if claims.get("aud") != audience:
        raise VapidError(f"aud {claims.get('aud')!r} is not {audience!r}")
    if not now.timestamp() < claims["exp"] <= (now + dt.timedelta(hours=24)).timestamp():
        raise VapidError(f"exp {claims['exp']} is not within 24 hours of {now}")
    if not claims.get("sub"):
        raise VapidError("no sub")
    return claims


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: PushReceiver

    def get_request(self) -> Any:
        sock, address = super().get_request()
        with self.receiver.lock:
            self.receiver.connections += 1
        return sock, address


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        receiver = self.server.receiver
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        sni = getattr(self.connection, "vahva_sni", None)
        with receiver.lock:
            receiver.received.append(
                Received("POST", self.path, dict(self.headers.items()), body, sni)
            )
        receiver.arrived.set()
        # A push service that does not answer: hold the request until the test is done.
        receiver.release.wait(30)
        self.send_response(receiver.status)
        for name, value in receiver.answer_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class PushReceiver:
    """A push service on 127.0.0.1 in a thread. ``status`` is what it answers; clear
    ``release`` to make it hang until the test ends."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.connections = 0
        self.status = 201
        self.answer_headers: dict[str, str] = {}
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.receiver = self
        self.tls = tls
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def url(self, path: str = "/push/abc") -> str:
        return self.origin + path

    def __enter__(self) -> PushReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@contextmanager
def running(tls: ssl.SSLContext | None = None) -> Iterator[PushReceiver]:
    with PushReceiver(tls) as receiver:
        yield receiver


def tls_pair(name: str, directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for ``name``: (the server's context, a client context that
    trusts only it). The server context records the SNI name each connection asked for."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)

    def remember_sni(sock: Any, server_name: str | None, _context: Any) -> None:
        sock.vahva_sni = server_name

    server.sni_callback = remember_sni
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client
