"""The trusted networks (the TOML file's VAHVA["TRUSTED_NETWORKS"] and the admin's) and the
trusted proxies (VAHVA["TRUSTED_PROXIES"]); the edges (middleware, sign-in engine, the app's
request details) ask here, and :func:`vahva.policy.decide` gets the answer in its context."""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
from typing import Any

from django.db import connection, transaction
from django.db.models.signals import post_delete, post_migrate, post_save

from vahva import clock, networks
from vahva.conf import settings
from vahva.proxies import client_address, is_trusted_proxy, trusted_proxies


@functools.lru_cache(maxsize=8)
def _networks(text: str) -> tuple[networks.Network, ...]:
    return networks.parse_networks(json.loads(text))


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def configured_networks() -> dict[str, list[str]]:
    """The configuration file's networks, as written there."""
    return {str(name): list(blocks) for name, blocks in settings.TRUSTED_NETWORKS.items()}


#: How long a process keeps the admin's networks when no change reached it: a change made
#: in this process (post_save, post_delete) is seen at once, one made on another node within
#: this many seconds.
ADMIN_NETWORKS_TTL = dt.timedelta(seconds=10)


class _AdminNetworks:
    """The admin's networks, read once per process (they were read twice per sign-in) and
    read again when an admin changes them here, or after :data:`ADMIN_NETWORKS_TTL`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: dict[str, list[str]] | None = None
        self._read_at: dt.datetime | None = None
        #: Bumped by every change; a read that started before a change is not kept.
        self._version = 0

    def forget(self) -> None:
        with self._lock:
            self._version += 1
            self._value = None

    def get(self) -> dict[str, list[str]]:
        now = clock.now()
        if connection.in_atomic_block:
            # Inside a transaction the rows read might be rolled back (or be an admin's
            # uncommitted change): read, never kept.
            return _read_admin_networks()
        with self._lock:
            value, read_at, version = self._value, self._read_at, self._version
        # Outside [read_at, read_at + TTL): a clock set back counts as stale too.
        if (
            value is not None
            and read_at is not None
            and read_at <= now < read_at + ADMIN_NETWORKS_TTL
        ):
            return value
        value = _read_admin_networks()
        with self._lock:
            if self._version == version:
                self._value, self._read_at = value, now
        return value


def _read_admin_networks() -> dict[str, list[str]]:
    from .models import TrustedNetwork

    return {
        n.name: n.block_list()
        for n in TrustedNetwork.objects.filter(enabled=True).only("name", "blocks")
    }


_admin_cache = _AdminNetworks()


def _admin_networks() -> dict[str, list[str]]:
    # A copy: a caller may change its dict.
    return {name: list(blocks) for name, blocks in _admin_cache.get().items()}


def forget_admin_networks(**_kwargs: Any) -> None:
    """An admin changed the networks (or the database was emptied): read them again, now and
    once the change is committed (a read between the save and the commit sees the old rows)."""
    _admin_cache.forget()
    transaction.on_commit(_admin_cache.forget)


post_save.connect(forget_admin_networks, sender="policy.TrustedNetwork")
post_delete.connect(forget_admin_networks, sender="policy.TrustedNetwork")
# A test database flushed between tests sends no post_delete, but post_migrate.
post_migrate.connect(forget_admin_networks)


def trusted_networks() -> tuple[networks.Network, ...]:
    """Both sources as one set. A set that no longer parses (two admins saving overlapping
    networks at once) counts as the file's networks only: fail closed, never wider."""
    merged = {**_admin_networks(), **configured_networks()}
    try:
        return _networks(_key(merged))
    except ValueError:
        return _networks(_key(configured_networks()))


def network_of(ip: str | None) -> str | None:
    """The name of the trusted network ``ip`` is in ("Campus"), or None."""
    return networks.network_of(ip, trusted_networks())


__all__ = [
    "client_address",
    "configured_networks",
    "is_trusted_proxy",
    "network_of",
    "trusted_networks",
    "trusted_proxies",
]
