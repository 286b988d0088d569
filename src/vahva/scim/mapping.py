"""A SCIM User's attributes → the vahva person's own fields (RFC 7643 §4.1).

userName is the identity system's name for the person: an e-mail address or a directory
username (``bjensen``). vahva signs people in by e-mail address, so the person's address is
the primary ``emails`` value, else the first, else userName when it is an address.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from scim2_models import InvalidValueException

from vahva.accounts.directory import clean_email

#: The longest text vahva keeps for userName, externalId and displayName.
MAX_TEXT = 254
#: The domain of placeholder addresses (see :func:`placeholder_email`).
PLACEHOLDER_DOMAIN = "no-email.invalid"
#: vahva's full_name column.
MAX_FULL_NAME = 150


@dataclass(frozen=True)
class PersonFields:
    user_name: str
    #: "" when the identity system sent no address (see :func:`placeholder_email`).
    email: str
    full_name: str
    is_active: bool
    external_id: str
    display_name: str
    #: The mobile number the identity system has for the person ("" if none).
    mobile: str


def _text(value: Any, attribute: str) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else str(value)
    if len(text) > MAX_TEXT:
        raise InvalidValueException(detail=f"{attribute} is longer than {MAX_TEXT} characters")
    return text


def _email(resource: Any, user_name: str) -> str:
    """The primary address, else the first, else userName if it is one, else ""."""
    emails = list(resource.emails or [])
    ordered = [e for e in emails if e.primary] + [e for e in emails if not e.primary]
    given = [e.value for e in ordered if e.value]
    if not given:
        try:
            return clean_email(user_name)
        except ValidationError:
            return ""
    try:
        return clean_email(given[0])
    except ValidationError:
        raise InvalidValueException(detail="The e-mail address is not valid") from None


def placeholder_email(public_id: Any) -> str:
    """The address of a person provisioned without one: vahva's username column needs a
    value, and ``.invalid`` (RFC 2606) can receive no mail nor be anyone's real address."""
    return f"{public_id}@{PLACEHOLDER_DOMAIN}"


def _full_name(resource: Any) -> str:
    name = resource.name
    parts = [name.given_name, name.family_name] if name is not None else []
    joined = " ".join(part.strip() for part in parts if part and part.strip())
    formatted = name.formatted if name is not None else None
    return (resource.display_name or formatted or joined or "").strip()[:MAX_FULL_NAME]


def _mobile(resource: Any) -> str:
    phones = [p for p in resource.phone_numbers or [] if p.value and str(p.type) == "mobile"]
    phones.sort(key=lambda phone: not phone.primary)
    return str(phones[0].value).strip()[:64] if phones else ""


def person_fields(resource: Any) -> PersonFields:
    """vahva's fields for a validated SCIM User; InvalidValueException (400) if it cannot be."""
    user_name = _text(resource.user_name, "userName")
    if not user_name:
        raise InvalidValueException(detail="userName is required")
    return PersonFields(
        user_name=user_name,
        email=_email(resource, user_name),
        full_name=_full_name(resource),
        # RFC 7643 §4.1.1: active absent means nothing was said; a new person is active.
        is_active=resource.active is not False,
        external_id=_text(resource.external_id, "externalId"),
        display_name=_text(resource.display_name, "displayName"),
        mobile=_mobile(resource),
    )


def stored_form(resource: Any) -> dict[str, Any]:
    """What is kept of a resource: everything the client wrote, less what the server owns."""
    data: dict[str, Any] = resource.model_dump(mode="json")
    for owned in ("id", "meta", "groups"):
        data.pop(owned, None)
    return data


def version_of(data: dict[str, Any]) -> str:
    """A weak ETag (RFC 7644 §3.14) of a resource's content: it changes when the content does,
    whoever changed it (a write over SCIM, the helpdesk deactivating the person...)."""
    content = {key: value for key, value in data.items() if key != "meta"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode())
    return f'W/"{digest.hexdigest()[:20]}"'
