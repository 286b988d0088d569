"""Questions asked of the directory about one person: groups, disabled, by typed name.

Every value put into a filter is escaped (RFC 4515, ``escape_filter_chars``): a typed name
such as ``*)(uid=*`` is looked for literally, it never widens the search.
"""

from __future__ import annotations

from typing import Any

import ldap
from ldap.filter import escape_filter_chars

from .config import DirectoryConfig, Membership


def member_of_roles(config: DirectoryConfig, conn: Any, dn: str) -> list[str]:
    """The role groups (configured DNs) that list ``dn`` as a member."""
    found = []
    for group in (*config.helpdesk_groups, *config.admin_groups):
        # LDAP injection: the person's DN goes into the filter escaped.
        query = f"(member={escape_filter_chars(dn)})"
        try:
            if conn.search_s(group, ldap.SCOPE_BASE, query, ["1.1"]):
                found.append(group)
        except ldap.NO_SUCH_OBJECT:
            continue
    return found


def group_dns(config: DirectoryConfig, conn: Any, dn: str, attrs: Any) -> list[str] | None:
    """The person's groups as roles are decided from them (None: read memberOf)."""
    if config.group_membership is Membership.MEMBER:
        return member_of_roles(config, conn, dn)
    return None


def is_disabled(config: DirectoryConfig, conn: Any, dn: str) -> bool:
    """Whether the entry matches ``disabled_filter`` (e.g. AD's ACCOUNTDISABLE bit)."""
    if not config.disabled_filter:
        return False
    try:
        return bool(conn.search_s(dn, ldap.SCOPE_BASE, config.disabled_filter, ["1.1"]))
    except ldap.NO_SUCH_OBJECT:
        return True


def find(config: DirectoryConfig, conn: Any, username: str) -> list[tuple[str, dict[str, Any]]]:
    """Entries the user filter finds for a typed name (escaped), with the mapped attributes."""
    query = config.user_filter % {"user": escape_filter_chars(username)}
    results = conn.search_s(config.user_base, ldap.SCOPE_SUBTREE, query, config.read_attributes())
    return [(dn, attrs) for dn, attrs in results if dn]
