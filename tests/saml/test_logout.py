"""SP-initiated single logout over the front channel."""

from __future__ import annotations

import base64
import zlib
from typing import Any
from urllib.parse import urlsplit

from django.test import Client
from saml2 import samlp
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID

from vahva.audit.models import AuditEvent

from .conftest import SSO, form_fields, signed_in
from .sp import SLO, TestSP, cached_pair, redirect_query

IDP_SLO = "http://localhost:8000/saml/slo"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _name_id(client: Client, sp: TestSP) -> Any:
    request_id, url = sp.redirect_url(SSO)
    return sp.read(form_fields(client.get(_path(url)))["SAMLResponse"], request_id).name_id


def _logout_response(location: str) -> Any:
    assert location.startswith(SLO + "?"), location
    query = redirect_query(location)
    assert "Signature" in query  # the LogoutResponse is signed (redirect binding)
    xml = zlib.decompress(base64.b64decode(query["SAMLResponse"]), -15).decode()
    assert query["RelayState"] == "bye"
    return samlp.logout_response_from_string(xml)


def test_the_service_signs_the_person_out_of_vahva(
    client: Client, alice: Any, service: Any
) -> None:
    sp, row = service
    signed_in(client, alice)
    name_id = _name_id(client, sp)
    response = client.get(_path(sp.logout_url(IDP_SLO, name_id)))
    assert response.status_code == 302
    answer = _logout_response(response["Location"])
    assert answer.status.status_code.value == samlp.STATUS_SUCCESS
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="saml.logout", data__service=row.entity_id).exists()


def test_an_unsigned_logout_for_someone_else_is_not_obeyed(
    client: Client, alice: Any, service: Any
) -> None:
    sp, _row = service
    signed_in(client, alice)
    _name_id(client, sp)
    stranger = NameID(format=NAMEID_FORMAT_PERSISTENT, text="someone-else")
    response = client.get(_path(sp.logout_url(IDP_SLO, stranger)))
    answer = _logout_response(response["Location"])
    assert answer.status.status_code.status_code.value == samlp.STATUS_UNKNOWN_PRINCIPAL
    assert client.session["_auth_user_id"] == str(alice.pk)  # still signed in


def test_a_signed_logout_is_obeyed_and_a_forged_one_refused(
    client: Client, alice: Any, make_sp: Any, idp_metadata: str
) -> None:
    sp, _row = make_sp(sign_requests=True)
    signed_in(client, alice)
    name_id = _name_id(client, sp)
    impostor = TestSP(idp_metadata, sign_requests=True, pair=cached_pair("impostor"))
    forged = client.get(_path(impostor.logout_url(IDP_SLO, name_id, sign=True)))
    assert forged.status_code == 403
    assert client.session["_auth_user_id"] == str(alice.pk)
    response = client.get(_path(sp.logout_url(IDP_SLO, name_id, sign=True)))
    assert _logout_response(response["Location"]).status.status_code.value == (samlp.STATUS_SUCCESS)
    assert "_auth_user_id" not in client.session


def test_metadata_publishes_the_logout_endpoint(client: Client, db: Any) -> None:
    xml = client.get("/saml/metadata").content.decode()
    assert 'SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"' in xml
    assert f'Location="{IDP_SLO}"' in xml
