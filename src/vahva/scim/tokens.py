"""Provisioning clients' bearer tokens: add one (shown once), list, revoke, authenticate."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from vahva import clock
from vahva.audit.log import record
from vahva.clientkeys import (
    InvalidClientName,
    checked_name,
    mint,
    secret_matches,
    split,
    use_is_due,
)

from .audit import Action
from .models import ProvisioningClient

__all__ = ["InvalidClientName", "NewToken", "add", "authenticate", "listed", "revoke"]


@dataclass(frozen=True)
class NewToken:
    client: ProvisioningClient
    #: The whole token, shown once: only its secret half's hash is stored.
    token: str


def add(name: str) -> NewToken:
    """A new provisioning client called ``name`` with a fresh token; audited."""
    name = checked_name(name)
    minted = mint()
    try:
        with transaction.atomic():
            client = ProvisioningClient.objects.create(
                name=name, token_id=minted.key_id, token_hash=minted.hash, created_at=clock.now()
            )
            record(Action.TOKEN_ADDED, reason=f"client {name}", client=name)
    except IntegrityError:
        raise InvalidClientName(f"There is already a client called {name!r}.") from None
    return NewToken(client, minted.key)


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
    found = split(token)
    if found is None:
        return None
    token_id, secret = found
    client = ProvisioningClient.objects.filter(token_id=token_id).first()
    # Hashed for an unknown id too: the answer takes as long either way.
    matches = secret_matches(secret, client.token_hash if client is not None else None)
    if client is None or not matches:
        return None
    # A revoked token (a leaked one, a decommissioned connector) is refused like a wrong one.
    if client.revoked_at is not None:
        return None
    if use_is_due(client.last_used_at, now):
        ProvisioningClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now
    return client
