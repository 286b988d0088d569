"""The organisation's networks, and whose address a request really comes from.

Pure functions of strings and address objects: no request, no settings. The settings object
validates the configuration with :func:`parse_networks` / :func:`parse_proxies`; the middleware
and the policy call :func:`client_address` and :func:`network_of`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Net = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Network:
    """A named trusted network ("Campus", "VPN"): one or more CIDR blocks."""

    name: str
    blocks: tuple[Net, ...]

    def __contains__(self, address: Address) -> bool:
        return any(address in block for block in self.blocks)


def _block(text: object, where: str) -> Net:
    if not isinstance(text, str):
        raise ValueError(f"{where}: {text!r} is not a CIDR block such as 130.233.0.0/16")
    try:
        # strict: "130.233.1.7/16" has host bits set; such a typo must not silently widen.
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise ValueError(f"{where}: {text!r} is not a CIDR block ({exc})") from None


def parse_networks(value: Mapping[str, Iterable[object]]) -> tuple[Network, ...]:
    """``{"Campus": ["130.233.0.0/16", "2001:708::/32"], "VPN": [...]}`` checked and parsed.

    ValueError for a malformed block, an empty network, or two networks that overlap (an
    address in both would make the sign-in log's reason ambiguous, and usually means a typo).
    """
    networks = []
    for name, blocks in value.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a trusted network needs a name, not {name!r}")
        if isinstance(blocks, str | bytes):
            raise ValueError(f"trusted network {name!r} must be a list of CIDR blocks")
        parsed = tuple(_block(block, f"trusted network {name!r}") for block in blocks)
        if not parsed:
            raise ValueError(f"trusted network {name!r} has no CIDR blocks")
        networks.append(Network(name.strip(), parsed))
    for index, first in enumerate(networks):
        for second in networks[index + 1 :]:
            for a in first.blocks:
                for b in second.blocks:
                    if a.version == b.version and a.overlaps(b):
                        raise ValueError(
                            f"trusted networks {first.name!r} ({a}) and {second.name!r} ({b}) "
                            "overlap"
                        )
    return tuple(networks)


def parse_proxies(value: Iterable[object]) -> tuple[Net, ...]:
    """The reverse proxies whose ``X-Forwarded-For`` is believed, as CIDR blocks."""
    if isinstance(value, str | bytes):
        raise ValueError("trusted proxies must be a list of addresses or CIDR blocks")
    return tuple(_block(block, "trusted proxies") for block in value)


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: Address, proxies: Sequence[Net]) -> bool:
    return any(address in block for block in proxies)


def is_trusted(peer: str | None, proxies: Sequence[Net]) -> bool:
    address = _address(peer or "")
    return address is not None and _trusted(address, proxies)


def client_address(peer: str | None, forwarded_for: str, proxies: Sequence[Net]) -> str | None:
    """The address of the client, as far as it can be believed.

    Spoofing: anyone can send ``X-Forwarded-For``, so it counts only when the socket's peer is
    a trusted proxy, and then only up to the first hop that is not one: walking the list from
    the right (the hop nearest to us), the first address not of a trusted proxy is the
    client's. Anything further left was written by the client and proves nothing. A malformed
    entry stops the walk at the proxy that passed it on: the request then counts as coming
    from that proxy, which is in no trusted network (fail closed).
    """
    address = _address(peer or "")
    if address is None or not _trusted(address, proxies):
        return peer or None
    nearest = address
    for hop in reversed([part for part in forwarded_for.split(",") if part.strip()]):
        found = _address(hop)
        if found is None:
            return str(nearest)
        if not _trusted(found, proxies):
            return str(found)
        nearest = found
    return str(nearest)


def network_of(ip: str | None, networks: Sequence[Network]) -> str | None:
    """The name of the trusted network ``ip`` is in, or None."""
    address = _address(ip or "")
    if address is None:
        return None
    # An IPv4-mapped IPv6 address (::ffff:130.233.1.7) is the IPv4 address it carries.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for network in networks:
        if address in network:
            return network.name
    return None
