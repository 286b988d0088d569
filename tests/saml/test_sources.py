"""Where services and federations come from: a service's metadata address (command line and
admin), a federation in the admin with its refresh action."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from vahva.audit.models import AuditEvent
from vahva.saml.models import Federation, ServiceProvider

from . import federation_kit as kit
from .sp import ENTITY, TestSP, cached_pair


def _run(*args: str) -> str:
    out = StringIO()
    call_command("saml", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def server() -> Iterator[kit.MetadataServer]:
    yield from kit.serve()


def test_a_service_is_added_from_its_metadata_address(
    server: kit.MetadataServer, idp_metadata: str
) -> None:
    server.pages["/Shibboleth.sso/Metadata"] = kit.Page(TestSP(idp_metadata).metadata().encode())
    out = _run(
        "sp", "add", "--metadata", server.url("/Shibboleth.sso/Metadata"), "--name", "Demo Learn"
    )
    assert f"Added Demo Learn: {ENTITY}" in out
    sp = ServiceProvider.objects.get()
    assert (sp.entity_id, sp.federation_id) == (ENTITY, None)


@pytest.mark.parametrize(
    ("page", "message"),
    [
        (kit.Page(b"nope", status=404), "answered HTTP 404"),
        (kit.Page(b"<html>Sign in</html>"), "EntityDescriptor"),
        (kit.Page(b"<md:EntityDescriptor"), "not XML"),
        (kit.Page(b"<x>" + b"a" * (1024 * 1024) + b"</x>"), "larger than the limit"),
        (
            kit.Page(b"<x>" + b"a" * (1024 * 1024) + b"</x>", declare_length=False),
            "larger than the limit",
        ),
        (kit.Page(hang=True), "took longer than 1 s"),
    ],
    ids=["404", "html", "broken xml", "oversized", "oversized, no length", "no answer"],
)
def test_a_bad_metadata_address_is_refused_with_nothing_saved(
    server: kit.MetadataServer, db: Any, settings: Any, page: kit.Page, message: str
) -> None:
    settings.VAHVA = {**settings.VAHVA, "SAML_FETCH_TIMEOUT": 1}
    server.pages["/md"] = page
    with pytest.raises(CommandError, match=message):
        _run("sp", "add", "--metadata", server.url("/md"))
    assert not ServiceProvider.objects.exists()


def test_only_http_addresses_are_fetched(db: Any) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        _run("sp", "add", "--metadata", "file:///etc/passwd")
    assert not ServiceProvider.objects.exists()


def test_the_admin_adds_a_service_from_its_metadata_address(
    admin_client: Client, server: kit.MetadataServer, idp_metadata: str
) -> None:
    server.pages["/md"] = kit.Page(TestSP(idp_metadata).metadata().encode())
    fields = {"mfa_rule": "always", "profile": "standard", "release": ["mail"], "enabled": "on"}
    server.pages["/broken"] = kit.Page(b"<html/>")
    bad = admin_client.post(
        "/admin/saml/serviceprovider/add/", {**fields, "metadata_url": server.url("/broken")}
    )
    assert bad.status_code == 200
    assert "EntityDescriptor" in bad.content.decode()
    assert not ServiceProvider.objects.exists()
    response = admin_client.post(
        "/admin/saml/serviceprovider/add/", {**fields, "metadata_url": server.url("/md")}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert ServiceProvider.objects.get().entity_id == ENTITY


def test_the_admin_adds_and_refreshes_a_federation(
    admin_client: Client, server: kit.MetadataServer, idp_metadata: str
) -> None:
    form = {
        "name": "Haka",
        "url": server.url("/fed.xml"),
        "mfa_rule": "always",
        "release": ["mail"],
    }
    bad = admin_client.post("/admin/saml/federation/add/", {**form, "cert_pem": "not a cert"})
    assert bad.status_code == 200
    assert "not one PEM X.509 certificate" in bad.content.decode()
    assert not Federation.objects.exists()
    pem = cached_pair("federation").cert_pem
    response = admin_client.post("/admin/saml/federation/add/", {**form, "cert_pem": pem})
    assert response.status_code == 302, response.content.decode()[:3000]
    fed = Federation.objects.get()
    assert AuditEvent.objects.filter(action="saml.federation_added").exists()

    entities = [kit.entity(TestSP(idp_metadata).metadata())]
    server.pages["/fed.xml"] = kit.Page(kit.signed(entities, cached_pair("attacker")))
    action = {"action": "refresh", "_selected_action": [str(fed.pk)]}
    page = admin_client.post("/admin/saml/federation/", action, follow=True)
    assert "refused, the previous services stay" in page.content.decode()
    assert not ServiceProvider.objects.exists()

    server.pages["/fed.xml"] = kit.Page(kit.signed(entities, cached_pair("federation")))
    page = admin_client.post("/admin/saml/federation/", action, follow=True)
    assert "Haka: 1 service in the aggregate." in page.content.decode()
    sp = ServiceProvider.objects.get()
    # The federation's defaults for its new services.
    assert (sp.entity_id, sp.mfa_rule, sp.release) == (ENTITY, "always", ["mail"])
