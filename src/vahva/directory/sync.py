"""``vahva directory sync``: everyone in the directory, applied to vahva.

New people are created, changed attributes applied, and people gone from the directory or
disabled there are disabled in vahva at once (sessions ended, OIDC tokens revoked: see
``User.sign_out_everywhere``). The search is paged (RFC 2696 simple paged results), so a
directory of 100,000 people is read a page at a time and never hits its size limit; each
page is compared with vahva's copy in one query, and only what changed is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import ldap
from ldap.controls import SimplePagedResultsControl

from vahva.accounts.models import User
from vahva.errors import VahvaError

from . import people
from .config import DirectoryConfig, Membership
from .connection import UNREACHABLE, DirectoryUnavailable, connect
from .entries import Person, Role, UnusableEntry, person_from
from .models import DirectoryLink

Progress = Callable[[int], None]
#: Half of the people linked (and at least this many, or all of them) gone at once stops
#: the sync.
MASS_DISABLE_FLOOR = 10


class MassDisable(VahvaError):
    """The directory stopped listing more than half of the people vahva has from it."""

    def __init__(self, *, gone: int, linked: int) -> None:
        super().__init__(
            f"The directory no longer lists {gone} of the {linked} people linked to it; "
            "nobody was disabled. Check sync_filter and user_base, or run the sync with "
            "--allow-mass-disable if they really left."
        )


@dataclass
class SyncReport:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    disabled: int = 0
    conflicts: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "read": self.read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "disabled": self.disabled,
            "conflicts": len(self.conflicts),
            "skipped": len(self.skipped),
        }


def paged(
    conn: Any, config: DirectoryConfig, query: str, attributes: list[str]
) -> Iterator[list[tuple[str, dict[str, list[bytes]]]]]:
    """Pages of (dn, attributes) for ``query`` under the user base (RFC 2696)."""
    control = SimplePagedResultsControl(True, size=config.page_size, cookie="")
    while True:
        msgid = conn.search_ext(
            config.user_base, ldap.SCOPE_SUBTREE, query, attributes, serverctrls=[control]
        )
        _type, data, _msgid, controls = conn.result3(msgid, timeout=config.timeout * 6)
        yield [(dn, attrs) for dn, attrs in data if dn]
        cookie = next(
            (c.cookie for c in controls if c.controlType == SimplePagedResultsControl.controlType),
            b"",
        )
        if not cookie:
            return
        control.cookie = cookie


def _role_members(conn: Any, config: DirectoryConfig) -> dict[str, set[str]]:
    """Each role group's members (lower-cased DNs), read once per sync."""
    members: dict[str, set[str]] = {}
    for group in (*config.helpdesk_groups, *config.admin_groups):
        try:
            result = conn.search_s(group, ldap.SCOPE_BASE, "(objectClass=*)", ["member"])
        except ldap.NO_SUCH_OBJECT:
            continue
        values = result[0][1].get("member", []) if result else []
        members[group] = {v.decode("utf-8", "replace").lower() for v in values}
    return members


def _disabled(conn: Any, config: DirectoryConfig) -> set[str]:
    if not config.disabled_filter:
        return set()
    query = f"(&{config.sync_filter}{config.disabled_filter})"
    return {dn.lower() for page in paged(conn, config, query, ["1.1"]) for dn, _a in page}


def read_people(conn: Any, config: DirectoryConfig, report: SyncReport) -> Iterator[list[Person]]:
    """Pages of people as vahva reads them; unusable entries land in ``report.skipped``."""
    disabled = _disabled(conn, config)
    roles = _role_members(conn, config) if config.group_membership is Membership.MEMBER else {}
    for page in paged(conn, config, config.sync_filter, config.read_attributes()):
        persons = []
        for dn, attrs in page:
            groups = None
            if roles:
                groups = [group for group, dns in roles.items() if dn.lower() in dns]
            try:
                persons.append(
                    person_from(
                        config, dn, attrs, group_dns=groups, disabled=dn.lower() in disabled
                    )
                )
            except UnusableEntry as exc:
                report.skipped.append(str(exc))
        yield persons


def _unchanged(
    config: DirectoryConfig, person: Person, link: DirectoryLink | None, helpdesk: set[int]
) -> bool:
    if link is None:
        return False
    user = link.user
    wanted = people.wanted(config, person)
    if any(getattr(user, name) != value for name, value in wanted.items()):
        return False
    if any(getattr(link, name) != value for name, value in people.link_fields(person).items()):
        return False
    if config.helpdesk_groups and (user.pk in helpdesk) != (Role.HELPDESK in person.roles):
        return False
    return not user.has_usable_password()


def sync(
    config: DirectoryConfig,
    *,
    now: dt.datetime,
    dry_run: bool = False,
    progress: Progress | None = None,
    allow_mass_disable: bool = False,
) -> SyncReport:
    """Read everyone and apply the differences (``dry_run``: count them, save nothing)."""
    report = SyncReport()
    seen: set[str] = set()
    helpdesk = set(
        User.objects.filter(
            user_permissions__content_type__app_label=people.HELPDESK_PERMISSION[0],
            user_permissions__codename=people.HELPDESK_PERMISSION[1],
        ).values_list("pk", flat=True)
    )
    conn = connect(config)
    try:
        for persons in read_people(conn, config, report):
            links = {
                link.immutable_id: link
                for link in DirectoryLink.objects.filter(
                    immutable_id__in=[p.immutable_id for p in persons]
                ).select_related("user")
            }
            report.read += len(persons)
            seen.update(p.immutable_id for p in persons)
            new = [p for p in persons if p.immutable_id not in links]
            one_by_one = {
                p.immutable_id for p in people.create_many(config, new, now=now, dry_run=dry_run)
            }
            report.created += len(new) - len(one_by_one)
            for person in persons:
                link = links.get(person.immutable_id)
                if link is None and person.immutable_id not in one_by_one:
                    continue  # created in bulk just now
                if _unchanged(config, person, link, helpdesk):
                    report.unchanged += 1
                    continue
                applied = people.apply(config, person, now=now, dry_run=dry_run)
                _count(report, applied)
            if progress:
                progress(report.read)
    except UNREACHABLE as exc:
        # Half a directory is not "everyone else left": nothing is disabled after a failure.
        raise DirectoryUnavailable() from exc
    finally:
        conn.unbind_s()
    gone = people.missing(seen)
    linked = DirectoryLink.objects.filter(present=True).count()
    mass = len(gone) > linked // 2 and len(gone) >= min(MASS_DISABLE_FLOOR, linked)
    if mass and not allow_mass_disable:
        # A typo in sync_filter or user_base reads nobody: that must not disable everyone.
        raise MassDisable(gone=len(gone), linked=linked)
    report.disabled += people.disable(gone, now=now, dry_run=dry_run)
    return report


def _count(report: SyncReport, applied: people.Applied) -> None:
    change = applied.change
    if change is people.Change.CONFLICT:
        report.conflicts.append(applied.detail)
    elif change is people.Change.CREATED:
        report.created += 1
    elif change is people.Change.DISABLED:
        report.disabled += 1
    elif change is people.Change.UPDATED:
        report.updated += 1
    else:
        report.unchanged += 1
