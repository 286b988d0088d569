"""A test device: an ECDSA P-256 key and signed requests, written from the protocol's
description with ``cryptography`` alone (not with vahva's own client), so that the tests check
the documented format rather than the server against itself."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from django.test import Client

from vahva import clock

API = "/api/device/v1"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def p1363(key: ec.EllipticCurvePrivateKey, message: bytes) -> str:
    """What WebCrypto's sign() returns: r || s, 32 bytes each, here base64url."""
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
    return b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def message(device: str, method: str, path: str, ts: int, nonce: str, body: bytes) -> bytes:
    lines = ["vahva-device-v1", device, method, path, str(ts), nonce]
    return "\n".join([*lines, hashlib.sha256(body).hexdigest()]).encode()


class TestDevice:
    """One phone. ``client`` is Django's test client (no cookies needed: requests are signed)."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, client: Client | None = None, name: str = "Alice's phone") -> None:
        self.client = client or Client()
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = name
        self.id = ""
        self.totp_secret = ""

    def jwk(self) -> dict[str, str]:
        numbers = self.key.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }

    def spki(self) -> str:
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def headers(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        ts: int | None = None,
        nonce: str | None = None,
        device: str | None = None,
        key: ec.EllipticCurvePrivateKey | None = None,
    ) -> dict[str, str]:
        ts = int(clock.now().timestamp()) if ts is None else ts
        nonce = nonce or secrets.token_urlsafe(18)
        device = self.id if device is None else device
        signature = p1363(key or self.key, message(device, method, path, ts, nonce, body))
        headers = {"Vahva-Timestamp": str(ts), "Vahva-Nonce": nonce, "Vahva-Signature": signature}
        if device:
            headers["Vahva-Device"] = device
        return headers

    def send(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Any:
        headers = self.headers(method, path, body) if headers is None else headers
        call = getattr(self.client, method.lower())
        if method in ("GET", "DELETE"):
            return call(path, headers=headers)
        return call(path, data=body, content_type="application/json", headers=headers)

    # --- the protocol's steps --------------------------------------------------------------

    def enroll(self, code: str, *, public_key: Any = None) -> Any:
        body = json.dumps(
            {"code": code, "public_key": public_key or self.jwk(), "name": self.name}
        ).encode()
        response = self.send(
            "POST", f"{API}/enroll", body, self.headers("POST", f"{API}/enroll", body, device="")
        )
        if response.status_code == 200:
            self.id = response.json()["device"]
            # The app's offline code (RFC 6238), as the enrolment gave it.
            self.totp_secret = response.json()["totp_secret"]
        return response

    def pending(self) -> Any:
        return self.send("GET", f"{API}/pending")

    def challenges(self) -> list[dict[str, Any]]:
        response = self.pending()
        assert response.status_code == 200, response.content
        return list(response.json()["challenges"])

    def answer_body(
        self, challenge: dict[str, Any], decision: str = "approve", number: Any = None
    ) -> bytes:
        return json.dumps(
            {
                "challenge": challenge["id"],
                "nonce": challenge["nonce"],
                "decision": decision,
                "number": number,
                "timestamp": int(clock.now().timestamp()),
            }
        ).encode()

    def answer(
        self, challenge: dict[str, Any], decision: str = "approve", number: Any = None
    ) -> Any:
        return self.send("POST", f"{API}/answer", self.answer_body(challenge, decision, number))

    def approve_only(self, number: int) -> Any:
        """Approve the one waiting request with ``number``."""
        (challenge,) = self.challenges()
        return self.answer(challenge, "approve", number)
