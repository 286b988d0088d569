"""Federation aggregates: `vahva saml federation add`, `vahva saml refresh`, and the attacks
on the aggregate (unsigned, wrong key, tampered, expired, oversized, wrapped, not XML)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from vahva.audit.models import AuditEvent
from vahva.saml.models import Federation, ServiceProvider

from . import federation_kit as kit
from .sp import TestSP, cached_pair

ONE = "https://one.example/sp"
TWO = "https://two.example/sp"
FED = "/fed.xml"


def _run(*args: str) -> str:
    out = StringIO()
    call_command("saml", *args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.fixture
def server() -> Iterator[kit.MetadataServer]:
    yield from kit.serve()


@pytest.fixture
def services(idp_metadata: str) -> dict[str, str]:
    """Two services' EntityDescriptors, as a federation would list them."""
    return {
        ONE: kit.entity(
            TestSP(idp_metadata, entity_id=ONE, acs="https://one.example/acs").metadata()
        ),
        TWO: kit.entity(
            TestSP(idp_metadata, entity_id=TWO, acs="https://two.example/acs").metadata()
        ),
    }


@pytest.fixture
def federation(server: kit.MetadataServer, services: dict[str, str], tmp_path: Path) -> Federation:
    """The federation "Haka", loaded once from a good aggregate with both services."""
    cert = tmp_path / "haka.pem"
    cert.write_text(cached_pair("federation").cert_pem)
    server.pages[FED] = kit.Page(kit.signed(services.values(), cached_pair("federation")))
    out = _run("federation", "add", "Haka", "--url", server.url(FED), "--cert", str(cert))
    assert "Added the federation Haka" in out
    assert "2 added, 0 updated, 0 removed" in _run("refresh")
    return Federation.objects.get(name="Haka")


def _state() -> dict[str, str]:
    return dict(ServiceProvider.objects.values_list("entity_id", "metadata_xml"))


def test_refresh_loads_the_services_of_a_signed_aggregate(federation: Federation) -> None:
    rows = ServiceProvider.objects.order_by("entity_id")
    assert [(sp.entity_id, sp.federation_id) for sp in rows] == [
        (ONE, federation.pk),
        (TWO, federation.pk),
    ]
    # The federation's defaults: no attributes unless a category or the admin says more.
    assert all(sp.release == [] for sp in rows)
    assert federation.valid_until is not None
    assert federation.valid_until > dt.datetime.now(dt.UTC) + dt.timedelta(days=6)
    listed = _run("federation", "list")
    assert "Haka" in listed
    assert "services=2" in listed
    assert AuditEvent.objects.filter(action="saml.federation_refreshed").exists()


def test_a_service_gone_from_the_aggregate_is_removed_and_changes_are_kept(
    federation: Federation, server: kit.MetadataServer, services: dict[str, str], idp_metadata: str
) -> None:
    ServiceProvider.objects.filter(entity_id=ONE).update(mfa_rule="always", release=["mail"])
    moved = TestSP(idp_metadata, entity_id=ONE, acs="https://one.example/new-acs").metadata()
    server.pages[FED] = kit.Page(kit.signed([kit.entity(moved)], cached_pair("federation")))
    assert "0 added, 1 updated, 1 removed" in _run("refresh", "Haka")
    one = ServiceProvider.objects.get()
    assert one.entity_id == ONE
    assert "https://one.example/new-acs" in one.metadata_xml
    # The admin's choices for the service survive the refresh.
    assert (one.mfa_rule, one.release) == ("always", ["mail"])


def test_a_service_connected_by_hand_is_not_taken_over_by_the_aggregate(
    make_sp: Any, server: kit.MetadataServer, tmp_path: Path, idp_metadata: str
) -> None:
    _sp, local = make_sp(name="Local")
    hostile = TestSP(idp_metadata, acs="https://evil.example/acs").metadata()
    server.pages[FED] = kit.Page(kit.signed([kit.entity(hostile)], cached_pair("federation")))
    cert = tmp_path / "fed.pem"
    cert.write_text(cached_pair("federation").cert_pem)
    _run("federation", "add", "Haka", "--url", server.url(FED), "--cert", str(cert))
    assert "0 added" in _run("refresh")
    local.refresh_from_db()
    assert local.federation_id is None
    assert "evil.example" not in local.metadata_xml


def _replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) >= 1
    return data.replace(old, new, 1)


def _wrapped_forged_root(services: dict[str, str], evil: str) -> bytes:
    """The signed aggregate's signature moved under a forged root that has another ID."""
    good = kit.signed(services.values(), cached_pair("federation")).decode()
    signature = re.search(r"<ds:Signature.*?</ds:Signature>", good, re.S)
    assert signature
    return (
        kit.unsigned([evil], template=False, agg_id="_evil")
        .replace(
            'Name="https://federation.example">',
            'Name="https://federation.example">' + signature.group(0),
        )
        .encode()
    )


def _wrapped_original_inside(services: dict[str, str], evil: str) -> bytes:
    """A forged root with the original's ID, the signed original hidden in its Extensions."""
    good = kit.signed(services.values(), cached_pair("federation")).decode()
    good = good.removeprefix('<?xml version="1.0"?>').strip()
    signature = re.search(r"<ds:Signature.*?</ds:Signature>", good, re.S)
    assert signature
    return (
        f'<md:EntitiesDescriptor xmlns:md="{kit.MD}" ID="_fed1" '
        f'validUntil="{kit.stamp(kit.in_days(7))}">'
        f"{signature.group(0)}<md:Extensions>{good}</md:Extensions>{evil}</md:EntitiesDescriptor>"
    ).encode()


def _signature_over_one_entity(services: dict[str, str], evil: str) -> bytes:
    """A real federation signature that covers only one service, with another added beside."""
    one = services[ONE].replace("<md:EntityDescriptor ", '<md:EntityDescriptor ID="_one" ', 1)
    assert 'ID="_one"' in one
    xml = kit.unsigned([one, evil], reference="_one")
    return kit.sign(xml, cached_pair("federation"), node=f"{kit.MD}:EntityDescriptor")


def _second_signature(services: dict[str, str], evil: str) -> bytes:
    """The attacker's own signature placed before the federation's, at the root."""
    good = kit.signed(services.values(), cached_pair("federation")).decode()
    theirs = kit.signed([evil], cached_pair("attacker")).decode()
    signature = re.search(r"<ds:Signature.*?</ds:Signature>", theirs, re.S)
    assert signature
    return good.replace("<ds:Signature", signature.group(0) + "<ds:Signature", 1).encode()


def _evil(idp_metadata: str) -> str:
    return kit.entity(
        TestSP(
            idp_metadata, entity_id="https://evil.example/sp", acs="https://evil.example/acs"
        ).metadata()
    )


ATTACKS: dict[str, Any] = {
    "unsigned": (
        lambda s, e: kit.unsigned([*s.values(), e], template=False).encode(),
        "not signed",
    ),
    "signed by another key": (
        lambda s, e: kit.signed([*s.values(), e], cached_pair("attacker")),
        "does not verify",
    ),
    "tampered after signing": (
        lambda s, e: _replace_once(
            kit.signed(s.values(), cached_pair("federation")),
            b"https://two.example/acs",
            b"https://evil.example/acs",
        ),
        "does not verify",
    ),
    "entity added after signing": (
        lambda s, e: _replace_once(
            kit.signed(s.values(), cached_pair("federation")),
            b"</md:EntitiesDescriptor>",
            e.encode() + b"</md:EntitiesDescriptor>",
        ),
        "does not verify",
    ),
    "expired validUntil": (
        lambda s, e: kit.signed(s.values(), cached_pair("federation"), valid_until=kit.in_days(-1)),
        "expired",
    ),
    "no validUntil": (
        lambda s, e: kit.signed(s.values(), cached_pair("federation"), with_valid_until=False),
        "no validUntil",
    ),
    "signature moved to a forged root": (_wrapped_forged_root, "does not cover the aggregate"),
    "signed original inside a forged root": (_wrapped_original_inside, "more than once"),
    "signature over one entity only": (_signature_over_one_entity, "does not cover the aggregate"),
    "a second signature before the real one": (_second_signature, "more than one signature"),
    "not XML": (lambda s, e: b"<html><body>Maintenance</body>", "not XML"),
    "not an aggregate": (lambda s, e: s[ONE].encode(), "not a metadata aggregate"),
    "entity expansion": (
        lambda s, e: b'<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><x>&b;</x>',
        "forbidden XML",
    ),
    "external entity": (
        lambda s, e: b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        "forbidden XML",
    ),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_bad_aggregate_is_refused_and_the_previous_services_stay(
    attack: str,
    federation: Federation,
    server: kit.MetadataServer,
    services: dict[str, str],
    idp_metadata: str,
) -> None:
    before = _state()
    make, message = ATTACKS[attack]
    server.pages[FED] = kit.Page(make(services, _evil(idp_metadata)))
    out = StringIO()
    with pytest.raises(CommandError, match="refused: Haka"):
        call_command("saml", "refresh", stdout=out, stderr=out)
    assert message in out.getvalue()
    assert "the previous services stay" in out.getvalue()
    # Nothing of the refused aggregate was saved; the last good copy is still in use.
    assert _state() == before
    assert not ServiceProvider.objects.filter(entity_id="https://evil.example/sp").exists()
    fed = Federation.objects.get(pk=federation.pk)
    assert fed.valid_until == federation.valid_until
    assert message in fed.last_error
    refused = AuditEvent.objects.get(action="saml.federation_refused")
    assert refused.outcome == "failure"


@pytest.mark.parametrize("declare_length", [True, False])
def test_an_oversized_aggregate_is_cut_off(
    federation: Federation,
    server: kit.MetadataServer,
    services: dict[str, str],
    settings: Any,
    declare_length: bool,
) -> None:
    good = kit.signed(services.values(), cached_pair("federation"))
    settings.VAHVA = {**settings.VAHVA, "SAML_FEDERATION_MAX_BYTES": len(good) - 1}
    server.pages[FED] = kit.Page(good, declare_length=declare_length)
    before = _state()
    with pytest.raises(CommandError, match="refused: Haka"):
        _run("refresh")
    assert _state() == before
    assert "larger than the limit" in Federation.objects.get().last_error


def test_a_server_that_never_answers_is_given_up(
    federation: Federation, server: kit.MetadataServer, settings: Any
) -> None:
    settings.VAHVA = {**settings.VAHVA, "SAML_FETCH_TIMEOUT": 1}
    server.pages[FED] = kit.Page(hang=True)
    with pytest.raises(CommandError, match="refused"):
        _run("refresh")
    assert "took longer than 1 s" in Federation.objects.get().last_error
    assert len(_state()) == 2


def test_an_http_error_is_refused(federation: Federation, server: kit.MetadataServer) -> None:
    server.pages[FED] = kit.Page(b"gone", status=500)
    with pytest.raises(CommandError):
        _run("refresh")
    assert "answered HTTP 500" in Federation.objects.get().last_error
    assert len(_state()) == 2


def test_once_the_last_good_copy_expires_its_services_go(
    federation: Federation, server: kit.MetadataServer
) -> None:
    # Time passes beyond the last good aggregate's validUntil and the feed stays broken.
    Federation.objects.filter(pk=federation.pk).update(
        valid_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    )
    from vahva.saml import providers

    assert not providers.usable().exists()  # not answered, even before the next refresh
    server.pages[FED] = kit.Page(b"broken", status=503)
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("saml", "refresh", stdout=out, stderr=out)
    assert "its copy expired, 2 services removed" in out.getvalue()
    assert not ServiceProvider.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "file:///etc/passwd"], "not an http(s) address"),
        (["--url", "https://fed.example/md.xml", "--release", "password"], "unknown attribute"),
    ],
)
def test_federation_add_refuses_bad_input(
    db: Any, tmp_path: Path, args: list[str], message: str
) -> None:
    cert = tmp_path / "fed.pem"
    cert.write_text(cached_pair("federation").cert_pem)
    with pytest.raises(CommandError, match=re.escape(message)):
        _run("federation", "add", "Haka", "--cert", str(cert), *args)
    assert not Federation.objects.exists()


def test_federation_add_refuses_a_file_that_is_not_a_certificate(db: Any, tmp_path: Path) -> None:
    cert = tmp_path / "fed.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n")
    with pytest.raises(CommandError, match=r"not one PEM X\.509 certificate"):
        _run("federation", "add", "Haka", "--url", "https://f.example/md", "--cert", str(cert))
    assert not Federation.objects.exists()


def test_removing_a_federation_removes_its_services(federation: Federation) -> None:
    assert "and its 2 services" in _run("federation", "remove", "Haka")
    assert not ServiceProvider.objects.exists()
    with pytest.raises(CommandError, match="no federation named"):
        _run("federation", "remove", "Haka")
