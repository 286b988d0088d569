"""What a service learns about the person: identifiers and attributes, filtered by its policy.

Pure functions: the person's facts and the service's policy in, plain values out. Names are
pysaml2's friendly names; with the URI name format they are sent as their ``urn:oid:`` names
(eduPerson, SCHAC, the OASIS SAML subject-id profile).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Collection, Iterable
from dataclasses import dataclass

EPPN = "eduPersonPrincipalName"
MAIL = "mail"
DISPLAY_NAME = "displayName"
GIVEN_NAME = "givenName"
SURNAME = "sn"
AFFILIATION = "eduPersonAffiliation"
SCOPED_AFFILIATION = "eduPersonScopedAffiliation"
HOME_ORGANIZATION = "schacHomeOrganization"
SUBJECT_ID = "subject-id"
PAIRWISE_ID = "pairwise-id"

#: Everything vahva can release, in a stable order.
ALL = (
    EPPN,
    MAIL,
    DISPLAY_NAME,
    GIVEN_NAME,
    SURNAME,
    AFFILIATION,
    SCOPED_AFFILIATION,
    HOME_ORGANIZATION,
    SUBJECT_ID,
    PAIRWISE_ID,
)
#: What a new service may receive unless the admin changes it: no correlatable identifier
#: (subject-id) by default, the pairwise-id instead.
DEFAULT_RELEASE = tuple(name for name in ALL if name != SUBJECT_ID)


#: REFEDS Research and Scholarship (https://refeds.org/category/research-and-scholarship).
RESEARCH_AND_SCHOLARSHIP = "http://refeds.org/category/research-and-scholarship"
#: What an entity category releases whatever the service's own list says: the R&S bundle is
#: a shared user identifier (eppn, subject-id; the pairwise-id too), the person's name, mail
#: and scoped affiliation.
CATEGORY_BUNDLES: dict[str, tuple[str, ...]] = {
    RESEARCH_AND_SCHOLARSHIP: (
        EPPN,
        MAIL,
        DISPLAY_NAME,
        GIVEN_NAME,
        SURNAME,
        SCOPED_AFFILIATION,
        SUBJECT_ID,
        PAIRWISE_ID,
    ),
}


@dataclass(frozen=True, kw_only=True)
class Person:
    """The facts about a person that attributes are made of."""

    email: str
    full_name: str
    #: A stable, never reassigned id (the account's public id).
    stable_id: str


def scope_of(person: Person, configured: str) -> str:
    return (configured or person.email.rpartition("@")[2]).lower()


def _digest(secret: bytes, label: str, sp_entity_id: str, stable_id: str) -> bytes:
    message = f"{label}\x00{sp_entity_id}\x00{stable_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).digest()


def persistent_name_id(*, secret: bytes, sp_entity_id: str, stable_id: str) -> str:
    """Opaque, stable and different at every service (SAML Core §8.3.7): two services
    cannot link their users by comparing NameIDs."""
    digest = _digest(secret, "persistent", sp_entity_id, stable_id)
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def pairwise_id(*, secret: bytes, sp_entity_id: str, stable_id: str, scope: str) -> str:
    """The OASIS pairwise-id: ``<letters and digits>@<scope>``, different at every service."""
    digest = _digest(secret, "pairwise-id", sp_entity_id, stable_id)
    return base64.b32encode(digest).decode("ascii").rstrip("=") + "@" + scope


def _split_name(full_name: str) -> tuple[str, str]:
    given, _space, family = full_name.strip().rpartition(" ")
    return (given, family) if given else ("", family)


def everything(
    person: Person,
    *,
    secret: bytes,
    sp_entity_id: str,
    scope: str,
    affiliation: str,
    home_organization: str,
) -> dict[str, list[str]]:
    """Every attribute vahva knows for ``person`` at this service (before its policy)."""
    local = person.email.rpartition("@")[0]
    given, family = _split_name(person.full_name)
    values: dict[str, list[str]] = {
        EPPN: [f"{local}@{scope}".lower()],
        MAIL: [person.email],
        DISPLAY_NAME: [person.full_name] if person.full_name else [],
        GIVEN_NAME: [given] if given else [],
        SURNAME: [family] if family else [],
        AFFILIATION: [affiliation] if affiliation else [],
        SCOPED_AFFILIATION: [f"{affiliation}@{scope}"] if affiliation else [],
        HOME_ORGANIZATION: [home_organization or scope],
        SUBJECT_ID: [f"{person.stable_id.replace('-', '')}@{scope}"],
        PAIRWISE_ID: [
            pairwise_id(
                secret=secret, sp_entity_id=sp_entity_id, stable_id=person.stable_id, scope=scope
            )
        ],
    }
    return {name: value for name, value in values.items() if value}


def released(
    values: dict[str, list[str]],
    *,
    allowed: Iterable[str],
    requested: Collection[str] | None,
    categories: Collection[str] = (),
) -> dict[str, list[str]]:
    """Only what the service's policy allows and, when its metadata lists RequestedAttributes,
    only what it asks for (data minimisation); plus the bundle of each entity category the
    federation vouches for (``categories``: pass none for a service added by hand)."""
    allow = set(allowed)
    bundle = {name for category in categories for name in CATEGORY_BUNDLES.get(category, ())}
    return {
        name: value
        for name, value in values.items()
        if name in bundle or (name in allow and (requested is None or name in requested))
    }
