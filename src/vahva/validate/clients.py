"""API clients: add one (its key is shown once), find the one a key belongs to, remove one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from vahva import clock, prepared
from vahva.audit.log import record
from vahva.clientkeys import (
    InvalidClientName,
    checked_name,
    mint,
    secret_matches,
    split,
    use_is_due,
)

from .models import ApiClient

__all__ = ["InvalidClientName", "NewClient", "add", "authenticate", "listed", "remove"]


def _by_key_id(quote: Callable[[str], str]) -> str:
    """The client with a key id: written once (:mod:`vahva.prepared`; the ORM would build and
    compile it on every check). Names from the model, quoted; the key id is a parameter."""
    key_id = quote(prepared.column(ApiClient, "key_id"))
    return (
        f"SELECT {prepared.columns(ApiClient, quote)} "  # noqa: S608
        f"FROM {prepared.table(ApiClient, quote)} WHERE {key_id} = %s"
    )


@dataclass(frozen=True)
class NewClient:
    client: ApiClient
    #: The whole key, shown once: only its secret half's hash is stored.
    key: str


def add(name: str) -> NewClient:
    """A new client called ``name`` with a fresh key; audited."""
    name = checked_name(name)
    minted = mint()
    try:
        with transaction.atomic():
            client = ApiClient.objects.create(
                name=name, key_id=minted.key_id, key_hash=minted.hash, created_at=clock.now()
            )
            record("validate.client_added", reason=f"client {name}", client=name)
    except IntegrityError:
        raise InvalidClientName(f"There is already a client called {name!r}.") from None
    return NewClient(client, minted.key)


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
    found = split(key)
    if found is None:
        return None
    key_id, secret = found
    # Read on every check, not cached: a removed key stops working at once, on every node.
    sql = prepared.statement("validate.client_by_key_id", _by_key_id)
    client = next(iter(prepared.instances(ApiClient, sql, [key_id])), None)
    # Hashed for an unknown id too: the answer takes as long either way.
    matches = secret_matches(secret, client.key_hash if client is not None else None)
    if client is None or not matches:
        return None
    if use_is_due(client.last_used_at, now):
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now
    return client
