"""Secrets at rest: AES-256-GCM under a key id taken from settings.

Stored form: ``<key id>$<base64url(nonce || ciphertext+tag)>``. The purpose (``"totp"``,
...) is authenticated as associated data, so a ciphertext copied into a column of another
purpose does not decrypt. Rotation: encrypt always uses ``VAHVA['ENCRYPTION_KEY_ID']``;
decrypt finds the key by the stored id; ``vahva rotate-keys`` re-saves every secret.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.exceptions import ImproperlyConfigured

from vahva.conf import settings


class DecryptionError(Exception):
    """A stored secret could not be decrypted (unknown key id, or tampered)."""


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(key_id: str) -> bytes:
    keys = settings.ENCRYPTION_KEYS
    if key_id not in keys:
        raise DecryptionError(f"no encryption key with id {key_id!r} in VAHVA settings")
    return _b64decode(str(keys[key_id]))


def current_key_id() -> str:
    key_id: str = settings.ENCRYPTION_KEY_ID
    if not key_id:
        raise ImproperlyConfigured(
            "VAHVA['ENCRYPTION_KEY_ID'] is not set; run `vahva init` to create keys"
        )
    return key_id


def encrypt(plaintext: str, *, purpose: str) -> str:
    key_id = current_key_id()
    # A fresh 96-bit random nonce per message; GCM must never reuse one under a key.
    nonce = os.urandom(12)
    sealed = AESGCM(_key(key_id)).encrypt(nonce, plaintext.encode(), purpose.encode())
    return f"{key_id}${base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"


def decrypt(stored: str, *, purpose: str) -> str:
    key_id, sep, body = stored.partition("$")
    if not sep:
        raise DecryptionError("stored secret has no key id")
    raw = _b64decode(body)
    try:
        # The tag check rejects tampering and secrets moved from a column of another purpose.
        plain = AESGCM(_key(key_id)).decrypt(raw[:12], raw[12:], purpose.encode())
    except InvalidTag as exc:
        raise DecryptionError("stored secret failed authentication") from exc
    return plain.decode()


def key_id_of(stored: str) -> str:
    return stored.partition("$")[0]


def new_key() -> str:
    """A new random AES-256 key, base64url, for the configuration file."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()
