"""The configured trusted networks and proxies (VAHVA["TRUSTED_NETWORKS"] / ["TRUSTED_PROXIES"]),
parsed once per value; the edges (middleware, sign-in engine, the app's request details) ask
here, and :func:`vahva.policy.decide` gets the answer in its context."""

from __future__ import annotations

import functools
import json
from typing import Any

from vahva.conf import settings

from . import networks


@functools.lru_cache(maxsize=8)
def _networks(text: str) -> tuple[networks.Network, ...]:
    return networks.parse_networks(json.loads(text))


@functools.lru_cache(maxsize=8)
def _proxies(text: str) -> tuple[networks.Net, ...]:
    return networks.parse_proxies(json.loads(text))


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def trusted_networks() -> tuple[networks.Network, ...]:
    return _networks(_key(settings.TRUSTED_NETWORKS))


def trusted_proxies() -> tuple[networks.Net, ...]:
    return _proxies(_key(list(settings.TRUSTED_PROXIES)))


def network_of(ip: str | None) -> str | None:
    """The name of the trusted network ``ip`` is in ("Campus"), or None."""
    return networks.network_of(ip, trusted_networks())


def client_address(peer: str | None, forwarded_for: str) -> str | None:
    return networks.client_address(peer, forwarded_for, trusted_proxies())
