"""The trusted proxies (VAHVA["TRUSTED_PROXIES"]) and the client address they name: shared
core, because the logs, the middleware and the policy all need the same answer."""

from __future__ import annotations

import functools
import json

from vahva import networks
from vahva.conf import settings


@functools.lru_cache(maxsize=8)
def _proxies(text: str) -> tuple[networks.Net, ...]:
    return networks.parse_proxies(json.loads(text))


def trusted_proxies() -> tuple[networks.Net, ...]:
    return _proxies(json.dumps(list(settings.TRUSTED_PROXIES), sort_keys=True))


def client_address(peer: str | None, forwarded_for: str) -> str | None:
    """The socket's peer, or the client a trusted proxy names in ``X-Forwarded-For``."""
    return networks.client_address(peer, forwarded_for, trusted_proxies())


def is_trusted_proxy(peer: str | None) -> bool:
    """Whether the socket's peer is one of VAHVA["TRUSTED_PROXIES"]."""
    return networks.is_trusted(peer, trusted_proxies())
