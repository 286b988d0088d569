"""Provisioning clients' bearer tokens: add one (shown once), list, revoke, authenticate."""

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

from .audit import Action
from .models import ProvisioningClient

#: ``<16 hex digits>.<43 base64url characters>``: the id, then 256 random bits.
_TOKEN = re.compile(r"([0-9a-f]{16})\.([A-Za-z0-9_-]{43})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}")
#: last_used_at is kept to the hour: no write on every request.
USE_RESOLUTION = dt.timedelta(hours=1)


class InvalidClientName(ValueError):
    """The name is empty, too long, has odd characters, or is taken; the message says why."""


@dataclass(frozen=True)
class NewToken:
    client: ProvisioningClient
    #: The whole token, shown once: only its secret half's hash is stored.
    token: str


def hash_secret(secret: str) -> str:
    """One SHA-256: the secret is 256 random bits, which nobody can guess or look up, so a
    slow password hash would protect nothing more and cost every request its time."""
    return hashlib.sha256(secret.encode()).hexdigest()


def add(name: str) -> NewToken:
    """A new provisioning client called ``name`` with a fresh token; audited."""
    name = (name or "").strip()
    if not _NAME.fullmatch(name):
        raise InvalidClientName(
            "A client's name is 1-100 letters, digits, spaces, dots, dashes or underscores."
        )
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            client = ProvisioningClient.objects.create(
                name=name, token_id=token_id, token_hash=hash_secret(secret), created_at=clock.now()
            )
            record(Action.TOKEN_ADDED, reason=f"client {name}", client=name)
    except IntegrityError:
        raise InvalidClientName(f"There is already a client called {name!r}.") from None
    return NewToken(client, f"{token_id}.{secret}")


def revoke(name: str) -> bool:
    """Revoke the token of the client called ``name`` (it stops working at once); False if
    there is no such client or it was already revoked."""
    with transaction.atomic():
        revoked = ProvisioningClient.objects.filter(name=name, revoked_at=None).update(
            revoked_at=clock.now()
        )
        if revoked:
            record(Action.TOKEN_REVOKED, reason=f"client {name}", client=name)
    return bool(revoked)


def listed() -> list[ProvisioningClient]:
    return list(ProvisioningClient.objects.all())


def authenticate(token: str, *, now: dt.datetime) -> ProvisioningClient | None:
    """The client whose token ``token`` is, or None (unknown, wrong or revoked)."""
    found = _TOKEN.fullmatch((token or "").strip())
    if not found:
        return None
    token_id, secret = found.groups()
    client = ProvisioningClient.objects.filter(token_id=token_id).first()
    # Timing attack on the stored hash: compared in constant time, and an unknown id costs
    # the same hash as a known one.
    expected = client.token_hash if client is not None else "0" * 64
    if not hmac.compare_digest(hash_secret(secret), expected) or client is None:
        return None
    # A revoked token (a leaked one, a decommissioned connector) is refused like a wrong one.
    if client.revoked_at is not None:
        return None
    if client.last_used_at is None or now - client.last_used_at >= USE_RESOLUTION:
        ProvisioningClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now
    return client
