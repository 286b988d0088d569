"""Keys for machine clients: the validation API's gateways and scripts, SCIM provisioning
clients. A key is ``<16 hex digits>.<43 base64url characters>``: a public id that selects the
client's row, then 256 random bits of which only a SHA-256 is stored.

Shared core: each room keeps its own model and audit rows and asks here for the parts that
must be the same everywhere (the format, the hash, the constant-time comparison).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

KEY = re.compile(r"([0-9a-f]{16})\.([A-Za-z0-9_-]{43})")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}")
#: last_used_at is kept to the hour: no write on every request.
USE_RESOLUTION = dt.timedelta(hours=1)
#: What an unknown id is compared with: it costs the same hash as a known one.
_NOBODY = "0" * 64


class InvalidClientName(ValueError):
    """The name is empty, too long, has odd characters, or is taken; the message says why."""


@dataclass(frozen=True)
class Minted:
    key_id: str
    secret: str

    @property
    def hash(self) -> str:
        return hash_secret(self.secret)

    @property
    def key(self) -> str:
        """The whole key, shown once."""
        return f"{self.key_id}.{self.secret}"


def hash_secret(secret: str) -> str:
    """One SHA-256: the secret is 256 random bits, which nobody can guess or look up, so a
    slow password hash would protect nothing more and cost every request its time."""
    return hashlib.sha256(secret.encode()).hexdigest()


def checked_name(name: str) -> str:
    """``name`` stripped; InvalidClientName when it is not 1-100 plain characters."""
    name = (name or "").strip()
    if not NAME.fullmatch(name):
        raise InvalidClientName(
            "A client's name is 1-100 letters, digits, spaces, dots, dashes or underscores."
        )
    return name


def mint() -> Minted:
    return Minted(key_id=secrets.token_hex(8), secret=secrets.token_urlsafe(32))


def split(key: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed key, else None."""
    found = KEY.fullmatch((key or "").strip())
    return (found.group(1), found.group(2)) if found else None


def secret_matches(secret: str, stored_hash: str | None) -> bool:
    """Whether ``secret`` is the one behind ``stored_hash`` (None: no client with that id).

    Timing attack on the stored hash: compared in constant time, and an unknown id costs the
    same hash as a known one.
    """
    same = hmac.compare_digest(hash_secret(secret), stored_hash or _NOBODY)
    return same and stored_hash is not None


def use_is_due(last_used_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether last_used_at should be written now (at most once per USE_RESOLUTION)."""
    return last_used_at is None or now - last_used_at >= USE_RESOLUTION
