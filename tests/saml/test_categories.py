"""Entity categories: a service the federation puts in REFEDS Research and Scholarship
receives the R&S bundle in the real response; others only what their policy allows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from vahva.saml import federation, providers
from vahva.saml.models import ServiceProvider

from . import federation_kit as kit
from .conftest import SSO, form_fields, signed_in
from .sp import TestSP, cached_pair

RS_SP = "https://wiki.research.example/sp"
PLAIN_SP = "https://shop.example/sp"
RS_BUNDLE = {
    "eduPersonPrincipalName",
    "mail",
    "displayName",
    "givenName",
    "sn",
    "eduPersonScopedAffiliation",
    "subject-id",
    "pairwise-id",
}


@pytest.fixture
def server() -> Iterator[kit.MetadataServer]:
    yield from kit.serve()


@pytest.fixture
def carol(make_user: Any) -> Any:
    return make_user("carol@example.org", full_name="Carol Ann Smith")


def _sp(idp_metadata: str, entity_id: str) -> TestSP:
    return TestSP(idp_metadata, entity_id=entity_id, acs=entity_id.replace("/sp", "/acs"))


@pytest.fixture
def loaded(server: kit.MetadataServer, idp_metadata: str) -> dict[str, TestSP]:
    """A federation with an R&S service and a plain one, refreshed from a signed aggregate."""
    sps = {RS_SP: _sp(idp_metadata, RS_SP), PLAIN_SP: _sp(idp_metadata, PLAIN_SP)}
    entities = [
        kit.entity(sps[RS_SP].metadata(), categories=[kit.RS]),
        kit.entity(sps[PLAIN_SP].metadata()),
    ]
    server.pages["/md.xml"] = kit.Page(kit.signed(entities, cached_pair("federation")))
    fed = federation.add(
        name="Haka", url=server.url("/md.xml"), cert_pem=cached_pair("federation").cert_pem
    )
    federation.refresh(fed)
    return sps


def _released(client: Client, sp: TestSP) -> dict[str, list[str]]:
    request_id, url = sp.redirect_url(SSO)
    parts = urlsplit(url)
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200, response.content[:500]
    read = sp.read(form_fields(response)["SAMLResponse"], request_id)
    return dict(read.ava)


def test_a_research_and_scholarship_service_receives_the_bundle(
    client: Client, carol: Any, loaded: dict[str, TestSP]
) -> None:
    signed_in(client, carol)
    ava = _released(client, loaded[RS_SP])
    assert set(ava) == RS_BUNDLE
    assert ava["eduPersonPrincipalName"] == ["carol@example.org"]
    assert ava["givenName"] == ["Carol Ann"]
    assert ava["sn"] == ["Smith"]
    assert ava["eduPersonScopedAffiliation"] == ["member@example.org"]
    # Not in the bundle, and the federation's own list releases nothing.
    assert "eduPersonAffiliation" not in ava
    assert "schacHomeOrganization" not in ava


def test_a_service_without_the_category_gets_only_its_policy(
    client: Client, carol: Any, loaded: dict[str, TestSP]
) -> None:
    signed_in(client, carol)
    assert _released(client, loaded[PLAIN_SP]) == {}
    ServiceProvider.objects.filter(entity_id=PLAIN_SP).update(release=["mail"])
    assert _released(client, loaded[PLAIN_SP]) == {"mail": ["carol@example.org"]}


def test_a_category_a_service_claims_in_its_own_metadata_counts_for_nothing(
    client: Client, carol: Any, idp_metadata: str
) -> None:
    # Added by hand, not vouched for by a federation: it claims R&S to receive more.
    sp = _sp(idp_metadata, "https://greedy.example/sp")
    claimed = kit.entity(sp.metadata(), categories=[kit.RS])
    providers.add(metadata=claimed.encode(), release=["mail"])
    signed_in(client, carol)
    assert _released(client, sp) == {"mail": ["carol@example.org"]}


def test_an_expired_federation_service_is_not_answered(
    client: Client, carol: Any, loaded: dict[str, TestSP], tmp_path: Path
) -> None:
    import datetime as dt

    from vahva.audit.models import AuditEvent
    from vahva.saml.models import Federation

    # Its aggregate's validUntil has passed and no refresh succeeded since.
    Federation.objects.update(valid_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    signed_in(client, carol)
    _request_id, url = loaded[RS_SP].redirect_url(SSO)
    parts = urlsplit(url)
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code in (400, 403, 404)
    assert "SAMLResponse" not in response.content.decode()
    assert AuditEvent.objects.filter(action="saml.refused", data__service=RS_SP).exists()
