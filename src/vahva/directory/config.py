"""``[vahva.directory]``: the organisation's LDAP directory or Active Directory, parsed once.

Off by default (the demo stays on local accounts). Every mistake is an error at start-up that
names the key, e.g. ``[vahva.directory] urls: ldap://dc1.example.org needs ldaps:// or
start_tls = true``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured


class Membership(StrEnum):
    """Where a person's groups are read from."""

    #: The person's own ``memberOf`` (Active Directory; OpenLDAP with the memberof overlay).
    MEMBER_OF = "memberOf"
    #: The role groups' ``member`` lists (plain groupOfNames without the overlay).
    MEMBER = "member"


class PasswordModify(StrEnum):
    """How a directory person's new password is written."""

    #: The LDAP Password Modify extended operation (RFC 3062): OpenLDAP, 389-ds, FreeIPA.
    RFC3062 = "rfc3062"
    #: Active Directory's ``unicodePwd`` (delete old + add new, over TLS).
    AD = "ad"


#: vahva's names for what it reads → the attribute it reads them from (OpenLDAP defaults).
ATTRIBUTE_DEFAULTS: dict[str, str] = {
    "email": "mail",
    "full_name": "cn",
    "given_name": "givenName",
    "surname": "sn",
    "username": "uid",
    "affiliation": "eduPersonAffiliation",
    "mobile": "mobile",
    "immutable_id": "entryUUID",
}
#: Attributes whose values are bytes, shown as a UUID (Active Directory's GUIDs).
BINARY_IDS = frozenset({"objectguid", "ms-ds-consistencyguid", "msds-consistencyguid"})

DEFAULTS: dict[str, Any] = {
    "enabled": False,
    # One or more servers, tried in order (failover): ldaps://... or ldap://... with start_tls.
    "urls": [],
    "start_tls": False,
    # The CA that signed the directory's certificate (empty: the system's CAs).
    "ca_file": "",
    # The account vahva searches with (empty: an anonymous bind).
    "bind_dn": "",
    "bind_password": "",
    "user_base": "",
    # Finds one person from what they typed; %(user)s is the typed name, escaped (RFC 4515).
    "user_filter": "(|(mail=%(user)s)(uid=%(user)s))",
    # Everyone `vahva directory sync` reads.
    "sync_filter": "(objectClass=inetOrgPerson)",
    # People who may not sign in, e.g. Active Directory's ACCOUNTDISABLE bit:
    # "(userAccountControl:1.2.840.113556.1.4.803:=2)"; empty: none.
    "disabled_filter": "",
    "attributes": dict(ATTRIBUTE_DEFAULTS),
    "group_membership": Membership.MEMBER_OF.value,
    # Group DNs whose members are helpdesk staff, or administrators (superusers).
    "helpdesk_groups": [],
    "admin_groups": [],
    # Seconds for a connection and for each operation: a hung directory refuses sign-in
    # within this, it never holds the page.
    "timeout": 5,
    # Entries per page of a sync's search (RFC 2696).
    "page_size": 500,
    # People change their directory password in vahva (else: a link to password_change_url).
    "password_change": False,
    "password_modify": PasswordModify.RFC3062.value,
    "password_change_url": "",
}

_STRINGS = (
    "ca_file",
    "bind_dn",
    "bind_password",
    "user_base",
    "user_filter",
    "sync_filter",
    "disabled_filter",
    "password_change_url",
)


@dataclass(frozen=True)
class DirectoryConfig:
    enabled: bool = False
    urls: tuple[str, ...] = ()
    start_tls: bool = False
    ca_file: str = ""
    bind_dn: str = ""
    bind_password: str = field(default="", repr=False)
    user_base: str = ""
    user_filter: str = DEFAULTS["user_filter"]
    sync_filter: str = DEFAULTS["sync_filter"]
    disabled_filter: str = ""
    attributes: Mapping[str, str] = field(default_factory=lambda: dict(ATTRIBUTE_DEFAULTS))
    group_membership: Membership = Membership.MEMBER_OF
    helpdesk_groups: tuple[str, ...] = ()
    admin_groups: tuple[str, ...] = ()
    timeout: int = 5
    page_size: int = 500
    password_change: bool = False
    password_modify: PasswordModify = PasswordModify.RFC3062
    password_change_url: str = ""

    @property
    def uri(self) -> str:
        """libldap tries space-separated URIs in order: the failover."""
        return " ".join(self.urls)

    @property
    def id_is_binary(self) -> bool:
        return self.attributes["immutable_id"].lower() in BINARY_IDS

    def read_attributes(self) -> list[str]:
        """What a search asks for: the map, and memberOf (operational: only if named)."""
        names = list(dict.fromkeys(self.attributes.values()))
        if self.group_membership is Membership.MEMBER_OF:
            names.append("memberOf")
        return names


def _error(key: str, message: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"[vahva.directory] {key}: {message}")


def _balanced(key: str, value: str) -> None:
    depth = 0
    for char in value:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0 or not value.startswith("(") or not value.endswith(")"):
        raise _error(key, f"{value!r} is not an LDAP filter in parentheses")


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse(value: Any) -> DirectoryConfig:
    """Check ``VAHVA["DIRECTORY"]`` and return it typed; raise naming the key that is wrong."""
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured("[vahva.directory] must be a table")
    unknown = set(value) - set(DEFAULTS)
    if unknown:
        raise _error(
            ", ".join(sorted(unknown)), f"unknown key; known: {', '.join(sorted(DEFAULTS))}"
        )
    raw = {**DEFAULTS, **value}
    for key in ("enabled", "start_tls", "password_change"):
        if not isinstance(raw[key], bool):
            raise _error(key, f"must be true or false, not {raw[key]!r}")
    for key in _STRINGS:
        if not isinstance(raw[key], str):
            raise _error(key, f"must be a string, not {type(raw[key]).__name__}")
    for key in ("timeout", "page_size"):
        if not isinstance(raw[key], int) or isinstance(raw[key], bool) or raw[key] < 1:
            raise _error(key, f"must be a whole number >= 1, not {raw[key]!r}")
    urls = raw["urls"]
    if isinstance(urls, str):
        urls = [urls]
    for key in ("urls", "helpdesk_groups", "admin_groups"):
        items = urls if key == "urls" else raw[key]
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise _error(key, "must be a list of strings")
    attributes = raw["attributes"]
    if not isinstance(attributes, Mapping) or not set(attributes) <= set(ATTRIBUTE_DEFAULTS):
        raise _error("attributes", f"takes only {', '.join(sorted(ATTRIBUTE_DEFAULTS))}")
    attributes = {**ATTRIBUTE_DEFAULTS, **attributes}
    for name, attr in attributes.items():
        if not isinstance(attr, str) or not attr.replace("-", "").isalnum():
            raise _error(f"attributes.{name}", f"{attr!r} is not an attribute name")
    try:
        membership = Membership(raw["group_membership"])
        modify = PasswordModify(raw["password_modify"])
    except ValueError as exc:
        key = "group_membership" if "Membership" in str(exc) else "password_modify"
        raise _error(key, str(exc)) from None
    config = DirectoryConfig(
        enabled=raw["enabled"],
        urls=tuple(urls),
        start_tls=raw["start_tls"],
        ca_file=raw["ca_file"],
        bind_dn=raw["bind_dn"],
        bind_password=raw["bind_password"],
        user_base=raw["user_base"],
        user_filter=raw["user_filter"],
        sync_filter=raw["sync_filter"],
        disabled_filter=raw["disabled_filter"],
        attributes=attributes,
        group_membership=membership,
        helpdesk_groups=tuple(raw["helpdesk_groups"]),
        admin_groups=tuple(raw["admin_groups"]),
        timeout=raw["timeout"],
        page_size=raw["page_size"],
        password_change=raw["password_change"],
        password_modify=modify,
        password_change_url=raw["password_change_url"],
    )
    if config.enabled:
        _check_enabled(config)
    return config


def _check_enabled(config: DirectoryConfig) -> None:
    if not config.urls:
        raise _error("urls", "at least one ldaps:// or ldap:// URL is needed")
    for url in config.urls:
        scheme = urlsplit(url).scheme
        if scheme not in ("ldap", "ldaps"):
            raise _error("urls", f"{url!r} must start with ldaps:// or ldap://")
        # Passwords in clear text on the network: TLS unless the directory is this machine.
        if scheme == "ldap" and not config.start_tls and not _loopback(url):
            raise _error("urls", f"{url} needs ldaps:// or start_tls = true")
    if not config.user_base:
        raise _error("user_base", "the DN people are searched under is needed")
    if "%(user)s" not in config.user_filter:
        raise _error("user_filter", "must contain %(user)s, where the typed name goes")
    _balanced("user_filter", config.user_filter)
    _balanced("sync_filter", config.sync_filter)
    if config.disabled_filter:
        _balanced("disabled_filter", config.disabled_filter)
    if bool(config.bind_dn) != bool(config.bind_password):
        raise _error("bind_password", "bind_dn and bind_password go together (or neither)")
    if config.ca_file:
        import os

        if not os.path.isfile(config.ca_file):
            raise _error("ca_file", f"{config.ca_file} is not a file")
    if config.password_change_url and not config.password_change_url.startswith("https://"):
        raise _error("password_change_url", "must be an https:// address")
