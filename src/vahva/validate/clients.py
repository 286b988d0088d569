"""API clients: add one (its key is shown once), find the one a key belongs to, remove one."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from vahva import clock
from vahva.audit.log import record

from .models import ApiClient

#: ``<16 hex digits>.<43 base64url characters>``: the id, then 256 random bits.
_KEY = re.compile(r"([0-9a-f]{16})\.([A-Za-z0-9_-]{43})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}")
#: last_used_at is kept to the hour: no write on every check.
USE_RESOLUTION = dt.timedelta(hours=1)


class InvalidClientName(ValueError):
    """The name is empty, too long, has odd characters, or is taken; the message says why."""


@dataclass(frozen=True)
class NewClient:
    client: ApiClient
    #: The whole key, shown once: only its secret half's hash is stored.
    key: str


def hash_secret(secret: str) -> str:
    """One SHA-256: the secret is 256 random bits, which nobody can guess or look up, so a
    slow password hash would protect nothing more and cost every check its time."""
    return hashlib.sha256(secret.encode()).hexdigest()


def add(name: str) -> NewClient:
    """A new client called ``name`` with a fresh key; audited."""
    name = (name or "").strip()
    if not _NAME.fullmatch(name):
        raise InvalidClientName(
            "A client's name is 1-100 letters, digits, spaces, dots, dashes or underscores."
        )
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            client = ApiClient.objects.create(
                name=name, key_id=key_id, key_hash=hash_secret(secret), created_at=clock.now()
            )
            record("validate.client_added", reason=f"client {name}", client=name)
    except IntegrityError:
        raise InvalidClientName(f"There is already a client called {name!r}.") from None
    return NewClient(client, f"{key_id}.{secret}")


def remove(name: str) -> bool:
    """Remove the client called ``name`` (its key stops working at once); False if none."""
    with transaction.atomic():
        deleted, _rows = ApiClient.objects.filter(name=name).delete()
        if deleted:
            record("validate.client_removed", reason=f"client {name}", client=name)
    return bool(deleted)


def listed() -> list[ApiClient]:
    return list(ApiClient.objects.all())


def authenticate(key: str, *, now: dt.datetime) -> ApiClient | None:
    """The client whose key ``key`` is, or None."""
    found = _KEY.fullmatch((key or "").strip())
    if not found:
        return None
    key_id, secret = found.groups()
    client = ApiClient.objects.filter(key_id=key_id).first()
    # Timing attack on the stored hash: compared in constant time, and an unknown id costs
    # the same hash as a known one.
    expected = client.key_hash if client is not None else "0" * 64
    if not hmac.compare_digest(hash_secret(secret), expected) or client is None:
        return None
    if client.last_used_at is None or now - client.last_used_at >= USE_RESOLUTION:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now
    return client
