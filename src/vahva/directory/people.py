"""Apply what the directory says of a person to vahva: create, link, update, disable.

Used by sign-in (one person, as they sign in) and by ``vahva directory sync`` (everyone).
A person is found by the entry's immutable id; an e-mail address only links an existing
local account the first time, and never a superuser's (a directory entry given the
break-glass admin's address must not become that admin).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction

from vahva.accounts.models import User
from vahva.audit.log import record

from .config import DirectoryConfig
from .entries import Person, Role
from .models import DirectoryLink

HELPDESK_PERMISSION = ("helpdesk", "access")


class Change(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DISABLED = "disabled"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class Applied:
    change: Change
    user: User | None
    detail: str = ""


def _helpdesk_permission() -> Permission | None:
    app_label, codename = HELPDESK_PERMISSION
    return Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()


def wanted(config: DirectoryConfig, person: Person) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "email": person.email,
        "full_name": person.full_name,
        "is_active": not person.disabled,
        "mobile_in_system": person.mobile,
    }
    # Only the roles the directory is configured to decide; the rest stay as set in vahva.
    if config.admin_groups:
        fields["is_superuser"] = Role.ADMIN in person.roles
    if config.helpdesk_groups or config.admin_groups:
        fields["is_staff"] = bool(person.roles)
    return fields


def link_fields(person: Person) -> dict[str, Any]:
    return {
        "dn": person.dn,
        "username": person.username,
        "given_name": person.given_name,
        "surname": person.surname,
        "affiliation": person.affiliation,
        "mobile": person.mobile,
        "present": not person.disabled,
    }


def apply(
    config: DirectoryConfig, person: Person, *, now: dt.datetime, dry_run: bool = False
) -> Applied:
    """Bring vahva's copy of ``person`` up to date (nothing saved when ``dry_run``)."""
    try:
        with transaction.atomic():
            applied = _apply(config, person, now=now)
            if dry_run:
                transaction.set_rollback(True)
            return applied
    except IntegrityError:
        # Two people in the directory with one e-mail address, or a parallel sign-in that
        # linked the same entry first: nothing half-saved, the next sync tries again.
        return Applied(Change.CONFLICT, None, f"{person.dn}: {person.email} is taken")


def _apply(config: DirectoryConfig, person: Person, *, now: dt.datetime) -> Applied:
    link = (
        DirectoryLink.objects.select_for_update()
        .select_related("user")
        .filter(immutable_id=person.immutable_id)
        .first()
    )
    created = False
    if link is not None:
        user = link.user
    else:
        found = User.objects.filter(email=person.email).first()
        if found is not None and (
            found.is_superuser or DirectoryLink.objects.filter(user=found).exists()
        ):
            # Account takeover: a directory entry that names a break-glass admin's address,
            # or someone else's linked account, does not get that account.
            record(
                "directory.conflict",
                subject=found,
                outcome="failure",
                reason="the address belongs to a local admin or another directory entry",
                dn=person.dn[:300],
            )
            return Applied(Change.CONFLICT, None, f"{person.dn}: {person.email} is taken")
        if found is None:
            user = User(email=person.email)
            created = True
        else:
            user = found
        link = DirectoryLink(user=user, immutable_id=person.immutable_id, synced_at=now)
    was_active = user.is_active and not created
    changed = []
    for name, value in wanted(config, person).items():
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed.append(name)
    if user.has_usable_password():
        # vahva keeps no copy of a directory person's password: the directory checks it.
        user.set_unusable_password()
        changed.append("password")
    if changed or created:
        user.save()
    link.user = user
    link_changed = [n for n, v in link_fields(person).items() if getattr(link, n) != v]
    for name in link_changed:
        setattr(link, name, link_fields(person)[name])
    link.synced_at = now
    link.save()
    _apply_helpdesk(config, person, user)
    if created:
        record("directory.created", subject=user, dn=person.dn[:300])
        return Applied(Change.CREATED, user)
    if was_active and person.disabled:
        # Disabled in the directory: every session and token ends now, not at expiry.
        user.sign_out_everywhere()
        record("directory.disabled", subject=user, reason="disabled in the directory")
        return Applied(Change.DISABLED, user)
    if changed or link_changed:
        record("directory.updated", subject=user, fields=sorted(changed + link_changed))
        return Applied(Change.UPDATED, user, ", ".join(sorted(changed + link_changed)))
    return Applied(Change.UNCHANGED, user)


def _apply_helpdesk(config: DirectoryConfig, person: Person, user: User) -> None:
    if not config.helpdesk_groups:
        return
    permission = _helpdesk_permission()
    if permission is None:
        return
    if Role.HELPDESK in person.roles:
        user.user_permissions.add(permission)
    else:
        user.user_permissions.remove(permission)


def missing(seen: set[str]) -> list[DirectoryLink]:
    """Everyone linked to an entry that the directory no longer has."""
    # Streamed and compared in Python: 100,000 ids would not fit in one SQL IN (...).
    return [
        link
        for link in DirectoryLink.objects.filter(present=True).select_related("user").iterator()
        if link.immutable_id not in seen
    ]


def disable(gone: list[DirectoryLink], *, now: dt.datetime, dry_run: bool = False) -> int:
    """Disable the people of ``gone`` at once: sessions ended, OIDC tokens revoked."""
    if dry_run:
        return len(gone)
    for link in gone:
        with transaction.atomic():
            DirectoryLink.objects.filter(pk=link.pk).update(present=False, synced_at=now)
            User.objects.filter(pk=link.user_id).update(is_active=False)
            link.user.is_active = False
            link.user.sign_out_everywhere()
            record("directory.disabled", subject=link.user, reason="gone from the directory")
    return len(gone)


def create_many(
    config: DirectoryConfig, persons: list[Person], *, now: dt.datetime, dry_run: bool = False
) -> list[Person]:
    """Create people no one in vahva has yet (no link, no account with the address) in a
    few statements; return those that need :func:`apply` one by one instead."""
    from vahva.audit.models import AuditEvent

    emails = [p.email for p in persons]
    taken = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
    counts: dict[str, int] = {}
    for email in emails:
        counts[email] = counts.get(email, 0) + 1
    # An address some account already has, or two entries with one address: one by one.
    fresh = [p for p in persons if p.email not in taken and counts[p.email] == 1]
    fresh_ids = {p.immutable_id for p in fresh}
    rest = [p for p in persons if p.immutable_id not in fresh_ids]
    if not fresh:
        return rest
    try:
        with transaction.atomic():
            users = []
            for person in fresh:
                user = User(email=person.email)
                for name, value in wanted(config, person).items():
                    setattr(user, name, value)
                user.set_unusable_password()
                users.append(user)
            User.objects.bulk_create(users)
            # bulk_create sets primary keys on PostgreSQL and SQLite >= 3.35 (RETURNING).
            DirectoryLink.objects.bulk_create(
                DirectoryLink(
                    user=user, immutable_id=person.immutable_id, synced_at=now,
                    **link_fields(person),
                )
                for user, person in zip(users, fresh, strict=True)
            )  # fmt: skip
            permission = _helpdesk_permission() if config.helpdesk_groups else None
            if permission is not None:
                through = User.user_permissions.through
                through.objects.bulk_create(
                    through(user_id=user.pk, permission_id=permission.pk)
                    for user, person in zip(users, fresh, strict=True)
                    if Role.HELPDESK in person.roles
                )
            AuditEvent.objects.bulk_create(
                AuditEvent(
                    at=now, action="directory.created", subject_id=user.pk,
                    subject_email=user.email, data={"dn": person.dn[:300]},
                )
                for user, person in zip(users, fresh, strict=True)
            )  # fmt: skip
            if dry_run:
                transaction.set_rollback(True)
    except IntegrityError:
        # A parallel sign-in linked one of them first: the page goes one by one.
        return persons
    return rest
