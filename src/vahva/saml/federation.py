"""Federations: add one (aggregate address + pinned certificate), refresh its services.

A refresh downloads the aggregate (outside any transaction), verifies it
(:mod:`vahva.saml.aggregate`), then replaces the federation's services in one transaction:
new ones are added with the federation's defaults, known ones get the new metadata (the
admin's per-service changes stay), ones no longer in the aggregate are removed. A refused
aggregate changes no service: the last good copy stays in use until its own validUntil,
after which its services are removed and not answered (see :func:`usable`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography import x509
from django.db import transaction
from django.utils import timezone

from vahva import clock
from vahva.audit.log import record
from vahva.conf import settings
from vahva.signin.requirements import ServiceRule

from . import aggregate, idp
from .fetch import FetchFailed, check_url, download
from .models import Federation, ServiceProvider
from .providers import InvalidService, check_release

Fetcher = Callable[[str], bytes]


class RefreshFailed(Exception):
    """The aggregate was refused; nothing of it was saved."""

    def __init__(self, message: str, *, removed: int = 0) -> None:
        super().__init__(message)
        self.message = message
        #: Services removed because the last good copy has expired meanwhile.
        self.removed = removed


@dataclass(frozen=True)
class Refreshed:
    added: int
    updated: int
    removed: int
    kept_local: int
    valid_until: dt.datetime


def check_certificate(pem: str) -> str:
    """The PEM text of one X.509 certificate, or InvalidService."""
    try:
        x509.load_pem_x509_certificate(pem.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise InvalidService("the certificate is not one PEM X.509 certificate") from None
    return pem.strip() + "\n"


def add(
    *,
    name: str,
    url: str,
    cert_pem: str,
    release: Iterable[str] = (),
    mfa_rule: str = ServiceRule.OUTSIDE_TRUSTED.value,
) -> Federation:
    name = name.strip()
    if not name:
        raise InvalidService("a federation needs a name")
    try:
        check_url(url)
        rule = ServiceRule(mfa_rule)
    except (FetchFailed, ValueError) as exc:
        raise InvalidService(str(exc)) from None
    pem = check_certificate(cert_pem)
    if Federation.objects.filter(name=name).exists():
        raise InvalidService(f"a federation named {name!r} exists already")
    with transaction.atomic():
        federation = Federation.objects.create(
            name=name, url=url, cert_pem=pem, release=check_release(release), mfa_rule=rule.value
        )
        record("saml.federation_added", reason=f"federation {name}", url=url)
    return federation


def remove(name: str) -> int:
    """Remove a federation and its services; how many services went."""
    with transaction.atomic():
        federation = Federation.objects.get(name=name)
        count = federation.providers.count()
        federation.delete()
        record("saml.federation_removed", reason=f"federation {name}", services=count)
    return count


def _fetch(url: str) -> bytes:
    return download(
        url,
        max_bytes=int(settings.SAML_FEDERATION_MAX_BYTES),
        timeout=float(settings.SAML_FETCH_TIMEOUT),
    )


def refresh(federation: Federation, *, fetcher: Fetcher = _fetch) -> Refreshed:
    """Fetch, verify and load the federation's aggregate (RefreshFailed when refused)."""
    now = clock.now()
    try:
        xmlsec = idp.xmlsec_binary()
    except idp.NotConfigured as exc:
        # Nothing can be verified without xmlsec1: keep what was loaded, as for a bad copy.
        raise RefreshFailed(str(exc), removed=_refused(federation, str(exc), now=now)) from None
    try:
        checked = aggregate.verify(
            fetcher(federation.url),
            cert_pem=federation.cert_pem,
            now=now,
            xmlsec=xmlsec,
        )
    except (FetchFailed, aggregate.InvalidAggregate) as exc:
        raise RefreshFailed(str(exc), removed=_refused(federation, str(exc), now=now)) from None
    with transaction.atomic():
        # Two refreshes at once: the second waits and applies its copy after the first.
        locked = Federation.objects.select_for_update().get(pk=federation.pk)
        result = _apply(locked, checked, now=now)
        record(
            "saml.federation_refreshed",
            reason=f"federation {locked.name}",
            added=result.added,
            updated=result.updated,
            removed=result.removed,
            valid_until=result.valid_until.isoformat(),
        )
    return result


def _apply(federation: Federation, checked: aggregate.Aggregate, *, now: dt.datetime) -> Refreshed:
    mine = {sp.entity_id: sp for sp in federation.providers.all()}
    # A service added by hand, or by another federation, keeps its own metadata and policy:
    # an aggregate cannot take over a service connected otherwise.
    elsewhere = set(
        ServiceProvider.objects.exclude(federation=federation).values_list("entity_id", flat=True)
    )
    wanted = [entity for entity in checked.services if entity.entity_id not in elsewhere]
    stamp = timezone.now()
    new, changed = [], []
    for entity in wanted:
        sp = mine.get(entity.entity_id)
        if sp is None:
            new.append(
                ServiceProvider(
                    entity_id=entity.entity_id,
                    name=entity.name,
                    metadata_xml=entity.metadata_xml,
                    mfa_rule=federation.mfa_rule,
                    release=list(federation.release or []),
                    federation=federation,
                )
            )
        elif sp.metadata_xml != entity.metadata_xml:
            sp.metadata_xml = entity.metadata_xml
            sp.updated_at = stamp  # the cached pysaml2 server is keyed on it
            changed.append(sp)
    ServiceProvider.objects.bulk_create(new, batch_size=500)
    ServiceProvider.objects.bulk_update(changed, ["metadata_xml", "updated_at"], batch_size=500)
    keep = {entity.entity_id for entity in wanted}
    gone = [sp.pk for entity_id, sp in mine.items() if entity_id not in keep]
    for start in range(0, len(gone), 500):
        ServiceProvider.objects.filter(pk__in=gone[start : start + 500]).delete()
    federation.valid_until = checked.valid_until
    federation.refreshed_at = now
    federation.last_error = ""
    federation.save(update_fields=["valid_until", "refreshed_at", "last_error"])
    return Refreshed(
        added=len(new),
        updated=len(changed),
        removed=len(gone),
        kept_local=len(checked.services) - len(wanted),
        valid_until=checked.valid_until,
    )


def _refused(federation: Federation, message: str, *, now: dt.datetime) -> int:
    """Note the refusal; drop the services once the last good copy has expired too."""
    with transaction.atomic():
        locked = Federation.objects.select_for_update().get(pk=federation.pk)
        locked.last_error = message[:2000]
        locked.save(update_fields=["last_error"])
        removed = 0
        if locked.valid_until is None or locked.valid_until <= now:
            removed = locked.providers.count()
            locked.providers.all().delete()
        record(
            "saml.federation_refused",
            outcome="failure",
            reason=f"federation {locked.name}: {message}"[:500],
            removed=removed,
        )
    return removed
