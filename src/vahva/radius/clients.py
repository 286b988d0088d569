"""RADIUS clients: add (with a shared secret and the addresses it sends from), list, remove,
and find the one a packet's source address belongs to."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from vahva import clock
from vahva.audit.log import record
from vahva.signin.requirements import ServiceRule

from .models import Prompt, RadiusClient

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}")
#: RFC 2865 §3 asks for at least 16 octets of secret; shorter ones are guessable offline from
#: one captured packet (the Response Authenticator is an MD5 over it).
MIN_SECRET = 16
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class InvalidClient(ValueError):
    """A client's name, addresses, secret or options are not usable; the message says why."""


def parse_addresses(values: Iterable[str]) -> list[Network]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise InvalidClient(f"{value!r} is not an address or CIDR block.") from None
    if not networks:
        raise InvalidClient("A client needs at least one address (--address 192.0.2.10/32).")
    return networks


def add(
    name: str,
    *,
    addresses: Iterable[str],
    secret: str,
    mfa_rule: str = ServiceRule.OUTSIDE_TRUSTED.value,
    service: str = "",
    prompt: str = Prompt.CHALLENGE.value,
    appended_codes: bool = False,
    approve_only: bool = False,
) -> RadiusClient:
    """A new client; audited. InvalidClient for anything that would not work."""
    name = (name or "").strip()
    if not _NAME.fullmatch(name):
        raise InvalidClient(
            "A client's name is 1-100 letters, digits, spaces, dots, dashes or underscores."
        )
    networks = parse_addresses(addresses)
    if len(secret.encode()) < MIN_SECRET:
        raise InvalidClient(f"The shared secret must be at least {MIN_SECRET} characters.")
    if mfa_rule not in {rule.value for rule in ServiceRule}:
        raise InvalidClient(
            f"The MFA rule must be one of {', '.join(rule.value for rule in ServiceRule)}."
        )
    if prompt not in Prompt.values:
        raise InvalidClient(f"The prompt must be one of {', '.join(Prompt.values)}.")
    check_approve_only(prompt=prompt, approve_only=approve_only)
    try:
        with transaction.atomic():
            client = RadiusClient.objects.create(
                name=name,
                addresses=[str(net) for net in networks],
                secret=secret,
                service=service.strip()[:100],
                mfa_rule=mfa_rule,
                prompt=prompt,
                appended_codes=appended_codes,
                approve_only=approve_only,
                created_at=clock.now(),
            )
            record(
                "radius.client_added",
                reason=f"client {name}",
                client=name,
                addresses=client.addresses,
                mfa_rule=mfa_rule,
                prompt=prompt,
                approve_only=approve_only,
            )
    except IntegrityError:
        raise InvalidClient(f"There is already a client called {name!r}.") from None
    return client


def check_approve_only(*, prompt: str, approve_only: bool) -> None:
    """Approve-only pushes are for clients that cannot show the number (wait mode) only."""
    if approve_only and prompt != Prompt.WAIT:
        # A client that shows challenges shows the number: it keeps number matching.
        raise InvalidClient(
            "Approve-only pushes are for clients that cannot show a challenge (--prompt wait); "
            "a client that shows challenges keeps number matching."
        )


def listed() -> list[RadiusClient]:
    return list(RadiusClient.objects.order_by("name"))


def remove(name: str) -> bool:
    with transaction.atomic():
        removed, _kinds = RadiusClient.objects.filter(name=name).delete()
        if removed:
            record("radius.client_removed", reason=f"client {name}", client=name)
    return bool(removed)


@dataclass(frozen=True)
class KnownClient:
    """A client as the server keeps it in memory: its networks and its secret in bytes."""

    pk: int
    name: str
    networks: tuple[Network, ...]
    secret: bytes
    service: str
    rule: ServiceRule
    prompt: Prompt
    appended_codes: bool
    #: Wait mode: the app's push asks Approve / Deny without a number (opted in).
    approve_only: bool = False


def load_all() -> list[KnownClient]:
    return [
        KnownClient(
            pk=client.pk,
            name=client.name,
            networks=tuple(parse_addresses(client.addresses)),
            secret=client.secret.encode(),
            service=client.service_name,
            rule=ServiceRule(client.mfa_rule),
            prompt=Prompt(client.prompt),
            appended_codes=client.appended_codes,
            approve_only=client.approve_only and client.prompt == Prompt.WAIT,
        )
        for client in RadiusClient.objects.all()
    ]


def client_for(clients: Iterable[KnownClient], address: str) -> KnownClient | None:
    """The client whose networks hold ``address`` (the most specific block wins)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    best: tuple[int, KnownClient] | None = None
    for client in clients:
        for net in client.networks:
            if (
                ip.version == net.version
                and ip in net
                and (best is None or net.prefixlen > best[0])
            ):
                best = (net.prefixlen, client)
    return best[1] if best else None
