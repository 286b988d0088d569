"""SCIM Groups: kept with their members; a group named in ``VAHVA["SCIM_GROUP_ROLES"]`` gives
its members a role (see :mod:`.roles`)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from scim2_models import (
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
    Resource,
)

from vahva import clock
from vahva.accounts.models import User
from vahva.audit.log import record

from . import people, roles
from .audit import Action
from .mapping import MAX_TEXT, stored_form, version_of
from .models import ScimGroup
from .people import Writer
from .provider import GROUP_TYPE, model_of


def visible() -> QuerySet[ScimGroup]:
    return ScimGroup.objects.prefetch_related("members")


def resource_of(group: ScimGroup) -> Resource[Any]:
    data = dict(group.resource)
    data["id"] = str(group.public_id)
    data["displayName"] = group.display_name
    # The display names the client gave its members, else the person's name.
    shown = {
        str(member.get("value")): member["display"]
        for member in data.pop("members", None) or []
        if isinstance(member, dict) and isinstance(member.get("display"), str)
    }
    members = [
        {
            "value": str(user.public_id),
            "display": shown.get(str(user.public_id), user.get_full_name()),
            "$ref": f"Users/{user.public_id}",
            "type": "User",
        }
        for user in sorted(group.members.all(), key=lambda user: user.pk)
    ]
    if members:
        data["members"] = members
    data["meta"] = {
        "resourceType": GROUP_TYPE.name,
        "created": group.created_at.isoformat(),
        "lastModified": group.modified_at.isoformat(),
        "version": version_of(data),
    }
    return model_of(GROUP_TYPE).model_validate(data)  # type: ignore[no-any-return]


def _find(resource_id: str | None, *, lock: bool) -> ScimGroup:
    try:
        public_id = uuid.UUID(str(resource_id))
    except ValueError:
        raise NotFoundException(detail=f"Group {resource_id!r} not found") from None
    found = visible().filter(public_id=public_id)
    group = (found.select_for_update() if lock else found).first()
    if group is None:
        raise NotFoundException(detail=f"Group {resource_id!r} not found")
    return group


def get(resource_id: str) -> Resource[Any]:
    return resource_of(_find(resource_id, lock=False))


def _display_name(resource: Any) -> str:
    name = (resource.display_name or "").strip()
    if not name:
        raise InvalidValueException(detail="displayName is required")
    if len(name) > MAX_TEXT:
        raise InvalidValueException(detail=f"displayName is longer than {MAX_TEXT} characters")
    return name


def _members(resource: Any) -> list[User]:
    """The people a group's ``members`` name; an unknown one is a 400, not silently dropped."""
    wanted: list[uuid.UUID] = []
    for member in resource.members or []:
        if member.type is not None and str(member.type) != "User":
            raise InvalidValueException(detail="vahva's groups hold Users, not other groups")
        try:
            wanted.append(uuid.UUID(str(member.value)))
        except ValueError:
            raise InvalidValueException(detail=f"No User {member.value!r}") from None
    found = list(people.visible().filter(public_id__in=wanted))
    missing = set(wanted) - {user.public_id for user in found}
    if missing:
        raise InvalidValueException(detail=f"No User {sorted(map(str, missing))[0]!r}")
    return found


def _stored(resource: Any) -> dict[str, Any]:
    """The group as written; of its members only the display names are kept from here (who is
    a member is the membership table's)."""
    data = stored_form(resource)
    data["members"] = [
        {"value": member["value"], "display": member["display"]}
        for member in data.get("members") or []
        if isinstance(member, dict) and member.get("display") and member.get("value")
    ]
    if not data["members"]:
        del data["members"]
    return data


def create(resource: Resource[Any], writer: Writer) -> Resource[Any]:
    now = clock.now()
    members = _members(resource)
    group = ScimGroup.objects.create(
        display_name=_display_name(resource),
        external_id=(resource.external_id or "").strip()[:MAX_TEXT],
        resource=_stored(resource),
        client=writer.client,
        created_at=now,
        modified_at=now,
    )
    group.members.set(members)
    roles.apply(members, client=writer.client.name, request=writer.request)
    _audit(Action.GROUP_CREATED, group, writer, members=len(members))
    return get(str(group.public_id))


def update(
    resource: Resource[Any], writer: Writer, *, expected_version: str | None
) -> Resource[Any]:
    group = _find(resource.id, lock=True)
    if expected_version is not None and resource_of(group).meta.version != expected_version:  # type: ignore[union-attr]
        raise PreconditionFailedException(detail="The Group has changed since it was read")
    before = set(group.members.all())
    members = _members(resource)
    group.display_name = _display_name(resource)
    group.external_id = (resource.external_id or "").strip()[:MAX_TEXT]
    group.resource = _stored(resource)
    group.modified_at = clock.now()
    group.save()
    group.members.set(members)
    # A rename can give or take a role too: everyone before and after is looked at.
    roles.apply(before | set(members), client=writer.client.name, request=writer.request)
    _audit(Action.GROUP_UPDATED, group, writer, members=len(members))
    return get(str(group.public_id))


def delete(resource_id: str, writer: Writer, *, expected_version: str | None) -> None:
    group = _find(resource_id, lock=True)
    if expected_version is not None and resource_of(group).meta.version != expected_version:  # type: ignore[union-attr]
        raise PreconditionFailedException(detail="The Group has changed since it was read")
    members = list(group.members.all())
    _audit(Action.GROUP_DELETED, group, writer, members=len(members))
    group.delete()
    roles.apply(members, client=writer.client.name, request=writer.request)


def _audit(action: Action, group: ScimGroup, writer: Writer, **data: Any) -> None:
    record(
        action,
        request=writer.request,
        reason=f"group {group.display_name[:100]} by client {writer.client.name}",
        client=writer.client.name,
        group=str(group.public_id),
        **data,
    )
