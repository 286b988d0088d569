"""Connecting SAML services: add from metadata, list, change, remove (admin and CLI)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q, QuerySet

from vahva import clock
from vahva.audit.log import record
from vahva.conf import settings
from vahva.signin.requirements import ServiceRule

from . import attributes, spmeta
from .fetch import FetchFailed, download
from .models import Profile, ServiceProvider

#: The largest metadata file accepted (one service's EntityDescriptor is a few kB).
MAX_METADATA_BYTES = 1024 * 1024


class InvalidService(ValueError):
    """The service cannot be added as given; the message says why."""


def usable() -> QuerySet[ServiceProvider]:
    """Services that may be answered: enabled, and not from an expired aggregate."""
    # A federation whose last good aggregate expired (no refresh since) is trusted no more.
    return ServiceProvider.objects.filter(enabled=True).filter(
        Q(federation__isnull=True) | Q(federation__valid_until__gt=clock.now())
    )


def read_metadata(data: bytes) -> tuple[str, spmeta.Facts]:
    if len(data) > MAX_METADATA_BYTES:
        raise InvalidService("the metadata file is larger than 1 MB")
    try:
        xml = data.decode("utf-8")
        return xml, spmeta.facts(xml)
    except UnicodeDecodeError:
        raise InvalidService("the metadata file is not UTF-8 text") from None
    except spmeta.InvalidMetadata as exc:
        raise InvalidService(f"not usable SAML metadata: {exc}") from None


def download_metadata(url: str) -> bytes:
    """One service's metadata from its address (size cap, timeout; InvalidService if not)."""
    # The address is an administrator's choice (like the file); the bytes are checked as a
    # file's are, and nothing is saved unless they are one service's usable metadata.
    try:
        return download(
            url, max_bytes=MAX_METADATA_BYTES, timeout=float(settings.SAML_FETCH_TIMEOUT)
        )
    except FetchFailed as exc:
        raise InvalidService(str(exc)) from None


def check_release(names: Iterable[str]) -> list[str]:
    names = list(names)
    unknown = sorted(set(names) - set(attributes.ALL))
    if unknown:
        raise InvalidService(
            f"unknown attribute(s) {', '.join(unknown)}; known: {', '.join(attributes.ALL)}"
        )
    return names


def add(
    *,
    metadata: bytes,
    name: str = "",
    mfa_rule: str = ServiceRule.OUTSIDE_TRUSTED.value,
    release: Iterable[str] | None = None,
    profile: str = Profile.STANDARD.value,
    require_signed_requests: bool = False,
) -> ServiceProvider:
    xml, facts = read_metadata(metadata)
    try:
        rule = ServiceRule(mfa_rule)
        shape = Profile(profile)
    except ValueError as exc:
        raise InvalidService(str(exc)) from None
    display = (name or facts.display_name or facts.entity_id).strip()[:150]
    if ServiceProvider.objects.filter(entity_id=facts.entity_id).exists():
        raise InvalidService(f"a service with entity id {facts.entity_id!r} exists already")
    with transaction.atomic():
        sp = ServiceProvider.objects.create(
            entity_id=facts.entity_id,
            name=display,
            metadata_xml=xml,
            mfa_rule=rule.value,
            release=check_release(release if release is not None else attributes.DEFAULT_RELEASE),
            profile=shape.value,
            require_signed_requests=require_signed_requests,
        )
        record("saml.sp_added", reason=f"service {sp.name}", service=sp.entity_id)
    return sp


def remove(entity_id: str) -> str:
    sp = ServiceProvider.objects.get(entity_id=entity_id)
    name = sp.name
    sp.delete()
    record("saml.sp_removed", reason=f"service {name}", service=entity_id)
    return name
