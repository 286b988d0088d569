"""A directory entry, read into what vahva keeps of a person (pure: no I/O)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .config import DirectoryConfig, Membership


class Role(StrEnum):
    HELPDESK = "helpdesk"
    ADMIN = "admin"


class UnusableEntry(ValueError):
    """An entry vahva cannot link: no immutable id or no e-mail address."""


@dataclass(frozen=True)
class Person:
    immutable_id: str
    dn: str
    email: str
    full_name: str = ""
    given_name: str = ""
    surname: str = ""
    username: str = ""
    affiliation: str = ""
    mobile: str = ""
    roles: frozenset[Role] = frozenset()
    disabled: bool = False


def _values(attrs: Mapping[str, Any], name: str) -> list[Any]:
    # Attribute names are case-insensitive (RFC 4512 §2.5); python-ldap's dicts are not.
    for key, value in attrs.items():
        if key.lower() == name.lower():
            return list(value) if isinstance(value, list | tuple) else [value]
    return []


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    return str(value).strip()


def first(attrs: Mapping[str, Any], name: str) -> str:
    values = _values(attrs, name)
    return _text(values[0]) if values else ""


def immutable_id(config: DirectoryConfig, attrs: Mapping[str, Any]) -> str:
    """entryUUID as it is; a binary objectGUID as the UUID AD's own tools show."""
    values = _values(attrs, config.attributes["immutable_id"])
    if not values:
        return ""
    value = values[0]
    if config.id_is_binary:
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        if len(raw) != 16:
            return ""
        return str(uuid.UUID(bytes_le=raw))
    return _text(value).lower()


def roles_of(config: DirectoryConfig, group_dns: Iterable[str]) -> frozenset[Role]:
    """The roles the person's groups give (DNs compared case-insensitively)."""
    groups = {_text(dn).lower() for dn in group_dns}
    roles = set()
    if groups & {dn.lower() for dn in config.helpdesk_groups}:
        roles.add(Role.HELPDESK)
    if groups & {dn.lower() for dn in config.admin_groups}:
        roles.add(Role.ADMIN)
    return frozenset(roles)


def person_from(
    config: DirectoryConfig,
    dn: str,
    attrs: Mapping[str, Any],
    *,
    group_dns: Iterable[str] | None = None,
    disabled: bool = False,
) -> Person:
    """Read one entry; ``group_dns`` default to its memberOf."""
    names = config.attributes
    ident = immutable_id(config, attrs)
    email = first(attrs, names["email"]).lower()
    if not ident:
        raise UnusableEntry(f"{dn}: no {names['immutable_id']}")
    if not email or "@" not in email:
        raise UnusableEntry(f"{dn}: no {names['email']}")
    if group_dns is None:
        group_dns = (
            _values(attrs, "memberOf") if config.group_membership is Membership.MEMBER_OF else []
        )
    return Person(
        immutable_id=ident,
        dn=dn,
        email=email,
        full_name=first(attrs, names["full_name"])[:150],
        given_name=first(attrs, names["given_name"])[:150],
        surname=first(attrs, names["surname"])[:150],
        username=first(attrs, names["username"])[:256],
        affiliation=";".join(sorted(_text(v) for v in _values(attrs, names["affiliation"])))[:256],
        mobile=first(attrs, names["mobile"])[:64],
        roles=roles_of(config, group_dns),
        disabled=disabled,
    )
