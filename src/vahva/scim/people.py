"""SCIM Users ↔ vahva's people: read, create, replace, deactivate (RFC 7644 §3.3-3.6).

Every person is visible over SCIM (an identity system finds the people vahva already has with
``userName eq`` and takes them over) except a local superuser with no SCIM record: the
break-glass administrator stays out of any identity system's reach.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import CharField, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf
from scim2_models import (
    NotFoundException,
    PreconditionFailedException,
    Resource,
    UniquenessException,
)

from vahva import clock
from vahva.accounts.models import User, normalise_email
from vahva.audit.log import record

from . import roles
from .audit import Action
from .mapping import PersonFields, person_fields, placeholder_email, stored_form, version_of
from .models import ProvisioningClient, ScimProfile
from .provider import USER_TYPE, model_of


@dataclass(frozen=True)
class Writer:
    """Who is writing: the provisioning client, and the HTTP request for the audit trail."""

    client: ProvisioningClient
    request: Any = None

    def audit(self, action: Action, user: User, **data: Any) -> None:
        record(
            action,
            subject=user,
            request=self.request,
            reason=f"client {self.client.name}",
            client=self.client.name,
            **data,
        )


def visible() -> QuerySet[User]:
    """The people SCIM sees, with the columns filters compare."""
    return (
        User.objects.exclude(is_superuser=True, scim_profile__isnull=True)
        .exclude(scim_profile__deleted_at__isnull=False)
        .select_related("scim_profile")
        .prefetch_related("scim_groups")
        .annotate(
            scim_user_name=Coalesce(
                F("scim_profile__user_name"), F("email"), output_field=CharField()
            ),
            scim_display_name=Coalesce(
                NullIf(F("scim_profile__display_name"), Value("")),
                F("full_name"),
                output_field=CharField(),
            ),
        )
    )


def _profile(user: User) -> ScimProfile | None:
    try:
        return user.scim_profile
    except ScimProfile.DoesNotExist:
        return None


def resource_of(user: User) -> Resource[Any]:
    """The person as a SCIM User: what the client last wrote, with vahva's truth on top."""
    profile = _profile(user)
    if profile is not None:
        data = dict(profile.resource)
        created, modified = profile.created_at, profile.modified_at
    else:
        data = {
            "schemas": [str(USER_TYPE.schema_)],
            "userName": user.email,
            "emails": [{"value": user.email, "primary": True, "type": "work"}],
        }
        if user.full_name:
            data["displayName"] = user.full_name
        created = modified = user.date_joined
    data["id"] = str(user.public_id)
    # The helpdesk or a directory sync may have deactivated the person since; an active
    # person whose client never said "active" is shown as the client left them.
    if "active" in data or not user.is_active:
        data["active"] = user.is_active
    groups = [
        {
            "value": str(group.public_id),
            "display": group.display_name,
            "$ref": f"Groups/{group.public_id}",
            "type": "direct",
        }
        for group in sorted(user.scim_groups.all(), key=lambda group: group.pk)
    ]
    data.pop("groups", None)
    if groups:
        data["groups"] = groups
    data["meta"] = {
        "resourceType": USER_TYPE.name,
        "created": created.isoformat(),
        "lastModified": max(modified, created).isoformat(),
        "version": version_of(data),
    }
    return model_of(USER_TYPE).model_validate(data)  # type: ignore[no-any-return]


def _locked(resource_id: str | None) -> User:
    try:
        public_id = uuid.UUID(str(resource_id))
    except ValueError:
        raise NotFoundException(detail=f"User {resource_id!r} not found") from None
    user = visible().select_for_update(of=("self",)).filter(public_id=public_id).first()
    if user is None:
        raise NotFoundException(detail=f"User {resource_id!r} not found")
    return user


def get(resource_id: str) -> Resource[Any]:
    try:
        public_id = uuid.UUID(str(resource_id))
    except ValueError:
        raise NotFoundException(detail=f"User {resource_id!r} not found") from None
    user = visible().filter(public_id=public_id).first()
    if user is None:
        raise NotFoundException(detail=f"User {resource_id!r} not found")
    return resource_of(user)


def _check_unique(fields: PersonFields, *, other_than: User | None) -> None:
    """userName and the e-mail address are each one person's (RFC 7643 §4.1.1: userName is
    unique, case-insensitively)."""
    others = User.objects.all() if other_than is None else User.objects.exclude(pk=other_than.pk)
    live = others.exclude(scim_profile__deleted_at__isnull=False)
    names = Q(scim_profile__user_name__iexact=fields.user_name) | Q(
        # Addresses are kept lower-case (accounts.normalise_email): an indexed equality.
        scim_profile__isnull=True,
        email=normalise_email(fields.user_name),
    )
    if live.filter(names).exists():
        raise UniquenessException(detail="userName is already taken")
    if not fields.email:
        return
    # A deleted (deactivated) person's address is not free: creating them again revives them.
    if others.filter(email=fields.email).exclude(scim_profile__deleted_at__isnull=False).exists():
        raise UniquenessException(detail="the e-mail address is already someone else's")


def _save_profile(
    user: User, resource: Resource[Any], fields: PersonFields, writer: Writer
) -> None:
    now = clock.now()
    values = {
        "user_name": fields.user_name,
        "external_id": fields.external_id,
        "display_name": fields.display_name,
        "mobile": fields.mobile,
        "resource": stored_form(resource),
        "modified_at": now,
        "deleted_at": None,
    }
    # The number the setup wizard may offer (still proved by a text or call before use).
    User.objects.filter(pk=user.pk).update(mobile_in_system=fields.mobile)
    updated = ScimProfile.objects.filter(user=user).update(**values)
    if not updated:
        ScimProfile.objects.create(user=user, client=writer.client, created_at=now, **values)


def _revivable(fields: PersonFields) -> User | None:
    """A person DELETEd earlier whom the identity system creates again (rehired, restored):
    the same address, and the same externalId when both have one."""
    if not fields.email:
        return None
    for user in (
        User.objects.select_for_update(of=("self",))
        .select_related("scim_profile")
        .filter(scim_profile__deleted_at__isnull=False, email=fields.email)
    ):
        kept = user.scim_profile.external_id
        # A reused address or username is not the same human: a new person must not inherit
        # the old one's registered phones and apps (their second factors).
        if not kept or not fields.external_id or kept == fields.external_id:
            return user
        raise UniquenessException(
            detail="the e-mail address belongs to a deleted person with another externalId"
        )
    return None


def _release_user_name(fields: PersonFields) -> None:
    """A deleted person's userName given to someone new: the old record lets go of it."""
    for profile in ScimProfile.objects.filter(
        deleted_at__isnull=False, user_name__iexact=fields.user_name
    ):
        profile.user_name = f"{profile.user_name[:200]}#deleted-{profile.pk}"
        profile.save(update_fields=["user_name"])


def create(resource: Resource[Any], writer: Writer) -> Resource[Any]:
    fields = person_fields(resource)
    _check_unique(fields, other_than=None)
    user = _revivable(fields)
    try:
        with transaction.atomic():
            if user is None:
                _release_user_name(fields)
                public_id = uuid.uuid4()
                user = User(
                    public_id=public_id,
                    email=fields.email or placeholder_email(public_id),
                    full_name=fields.full_name,
                    is_active=fields.is_active,
                )
                # The directory keeps the password: a provisioned person has no local one.
                user.set_unusable_password()
                user.save()
                revived = False
            else:
                user.email = fields.email or placeholder_email(user.public_id)
                user.full_name = fields.full_name
                user.is_active = fields.is_active
                user.save(update_fields=["email", "full_name", "is_active"])
                revived = True
            _save_profile(user, resource, fields, writer)
    except IntegrityError:
        # Two identity systems (or two requests) creating the same person at once.
        raise UniquenessException(detail="userName or e-mail address is already taken") from None
    writer.audit(Action.USER_CREATED, user, user_name=fields.user_name, revived=revived)
    return get(str(user.public_id))


def _check_version(user: User, expected: str | None) -> None:
    # Lost update: a write based on an older read is refused (If-Match, RFC 7644 §3.14).
    if expected is not None and resource_of(user).meta.version != expected:  # type: ignore[union-attr]
        raise PreconditionFailedException(detail="The User has changed since it was read")


def update(
    resource: Resource[Any], writer: Writer, *, expected_version: str | None
) -> Resource[Any]:
    user = _locked(resource.id)
    _check_version(user, expected_version)
    fields = person_fields(resource)
    _check_unique(fields, other_than=user)
    was_active = user.is_active
    email = fields.email or placeholder_email(user.public_id)
    changed = [
        name
        for name, new in (
            ("email", email),
            ("full_name", fields.full_name),
            ("is_active", fields.is_active),
        )
        if getattr(user, name) != new
    ]
    user.email, user.full_name, user.is_active = email, fields.full_name, fields.is_active
    try:
        with transaction.atomic():
            user.save(update_fields=["email", "full_name", "is_active"])
            _save_profile(user, resource, fields, writer)
    except IntegrityError:
        raise UniquenessException(detail="userName or e-mail address is already taken") from None
    writer.audit(Action.USER_UPDATED, user, changed=changed)
    if was_active and not user.is_active:
        _deactivated(user, writer, Action.USER_DEACTIVATED)
    elif user.is_active and not was_active:
        writer.audit(Action.USER_REACTIVATED, user)
    return get(str(user.public_id))


def _deactivated(user: User, writer: Writer, action: Action) -> None:
    # A person the organisation has let go keeps no session, token or device request.
    user.sign_out_everywhere()
    writer.audit(action, user)


def delete(resource_id: str, writer: Writer, *, expected_version: str | None) -> None:
    """DELETE: the person is deactivated (kept for the audit trail and a later return) and
    gone from SCIM: a GET answers 404 from now on."""
    user = _locked(resource_id)
    _check_version(user, expected_version)
    now = clock.now()
    if _profile(user) is None:
        ScimProfile.objects.create(
            user=user,
            client=writer.client,
            user_name=user.email,
            created_at=now,
            modified_at=now,
            resource=stored_form(resource_of(user)),
        )
    ScimProfile.objects.filter(user=user).update(deleted_at=now, modified_at=now)
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.is_active = False
    groups = list(user.scim_groups.all())
    user.scim_groups.clear()
    if groups:
        roles.apply([user], client=writer.client.name, request=writer.request)
    _deactivated(user, writer, Action.USER_DELETED)


def mobile_number(user: User) -> str:
    """The mobile number the identity system provisioned for ``user`` ("" if none): the
    number "in the system" the setup wizard may offer, still to be proved by a text or call."""
    profile = _profile(user)
    return profile.mobile if profile is not None and profile.deleted_at is None else ""
