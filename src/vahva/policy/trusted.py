"""The trusted networks (the TOML file's VAHVA["TRUSTED_NETWORKS"] and the admin's) and the
trusted proxies (VAHVA["TRUSTED_PROXIES"]); the edges (middleware, sign-in engine, the app's
request details) ask here, and :func:`vahva.policy.decide` gets the answer in its context."""

from __future__ import annotations

import functools
import json
from typing import Any

from vahva import networks
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


def _admin_networks() -> dict[str, list[str]]:
    from .models import TrustedNetwork

    return {
        n.name: n.block_list()
        for n in TrustedNetwork.objects.filter(enabled=True).only("name", "blocks")
    }


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
