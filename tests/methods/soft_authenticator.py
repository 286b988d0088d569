"""A software WebAuthn authenticator for tests without a browser: it answers
``navigator.credentials.create()`` / ``get()`` options the way a browser and a key would
(attestation "none", ES256), and can be told to lie (another origin, RP ID, sign count...)."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, encode_cbor

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64(data: bytes) -> str:
    return bytes_to_base64url(data)


@dataclass
class SoftAuthenticator:
    origin: str = "http://localhost:8000"
    rp_id: str = "localhost"
    user_verified: bool = True
    backup_eligible: bool = False
    resident: bool = True
    transports: list[str] = field(default_factory=lambda: ["usb"])
    aaguid: bytes = bytes(range(16))
    sign_count: int = 0
    counts: bool = True  # False: an authenticator that keeps no count (always sends 0)

    def __post_init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.user_handle: bytes | None = None

    # --- pieces -------------------------------------------------------------------------------

    def cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return encode_cbor(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _flags(self, *, attested: bool, user_verified: bool) -> int:
        flags = UP
        if user_verified:
            flags |= UV
        if self.backup_eligible:
            flags |= BE | BS
        if attested:
            flags |= AT
        return flags

    def _auth_data(self, rp_id: str, *, attested: bool, count: int, user_verified: bool) -> bytes:
        data = hashlib.sha256(rp_id.encode()).digest()
        data += bytes([self._flags(attested=attested, user_verified=user_verified)])
        data += struct.pack(">I", count)
        if attested:
            data += self.aaguid + struct.pack(">H", len(self.credential_id)) + self.credential_id
            data += self.cose_key()
        return data

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
        ).encode()

    # --- ceremonies ---------------------------------------------------------------------------

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: str | None = None,
    ) -> str:
        """The JSON of ``credential.toJSON()`` after ``navigator.credentials.create()``."""
        self.user_handle = base64url_to_bytes(options["user"]["id"])
        auth_data = self._auth_data(
            rp_id or self.rp_id,
            attested=True,
            count=self.sign_count,
            user_verified=self.user_verified,
        )
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client = self._client_data(
            "webauthn.create", challenge or options["challenge"], origin or self.origin
        )
        return json.dumps(
            {
                "id": b64(self.credential_id),
                "rawId": b64(self.credential_id),
                "type": "public-key",
                "authenticatorAttachment": "cross-platform",
                "response": {
                    "clientDataJSON": b64(client),
                    "attestationObject": b64(attestation),
                    "transports": self.transports,
                },
                "clientExtensionResults": {"credProps": {"rk": self.resident}},
            }
        )

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        count: int | None = None,
        user_verified: bool | None = None,
        user_handle: bytes | None = None,
        key: ec.EllipticCurvePrivateKey | None = None,
    ) -> str:
        """The JSON of ``credential.toJSON()`` after ``navigator.credentials.get()``."""
        if count is None:
            if self.counts:
                self.sign_count += 1
            count = self.sign_count if self.counts else 0
        auth_data = self._auth_data(
            rp_id or self.rp_id,
            attested=False,
            count=count,
            user_verified=self.user_verified if user_verified is None else user_verified,
        )
        client = self._client_data("webauthn.get", options["challenge"], origin or self.origin)
        signature = (key or self.key).sign(
            auth_data + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256())
        )
        response: dict[str, Any] = {
            "clientDataJSON": b64(client),
            "authenticatorData": b64(auth_data),
            "signature": b64(signature),
        }
        handle = user_handle or self.user_handle
        if handle is not None and self.resident:
            response["userHandle"] = b64(handle)
        return json.dumps(
            {
                "id": b64(self.credential_id),
                "rawId": b64(self.credential_id),
                "type": "public-key",
                "authenticatorAttachment": "cross-platform",
                "response": response,
                "clientExtensionResults": {},
            }
        )
