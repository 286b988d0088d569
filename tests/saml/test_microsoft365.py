"""The Microsoft 365 federation profile (docs/saml.md): what Entra ID's SAML 2.0 federation
expects of vahva's response, checked on an issued response (there is no tenant here)."""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from django.test import Client
from saml2.saml import NAMEID_FORMAT_PERSISTENT, AuthnContextClassRef
from saml2.samlp import NameIDPolicy, RequestedAuthnContext

from vahva.saml import contexts

from .conftest import SSO, form_fields, signed_in

ENTRA = "urn:federation:MicrosoftOnline"
ENTRA_ACS = "https://login.microsoftonline.com/login.srf"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _entra(make_sp: Any, **options: Any) -> Any:
    sp, _row = make_sp(entity_id=ENTRA, acs=ENTRA_ACS, profile="microsoft365", **options)
    return sp


def _sign_in_to_office(client: Client, sp: Any, **kwargs: Any) -> Any:
    request_id, url = sp.redirect_url(
        SSO,
        name_id_policy=NameIDPolicy(format=NAMEID_FORMAT_PERSISTENT),
        relay_state="",
        **kwargs,
    )
    response = client.get(_path(url))
    assert response.status_code == 200, response.content[:500]
    fields = form_fields(response)
    assert fields["action"] == ENTRA_ACS
    return sp.read(fields["SAMLResponse"], request_id), fields["SAMLResponse"]


def test_the_response_follows_the_documented_profile(
    client: Client, alice: Any, make_sp: Any
) -> None:
    sp = _entra(make_sp)
    signed_in(client, alice)
    read, encoded = _sign_in_to_office(client, sp)
    # NameID: persistent, the ImmutableID (base64 of the 16 GUID bytes, AD's byte order).
    assert read.name_id.format == NAMEID_FORMAT_PERSISTENT
    assert uuid.UUID(bytes_le=base64.b64decode(read.name_id.text)) == alice.public_id
    # IDPEmail: the user principal name, under exactly that name and no other attribute.
    xml = base64.b64decode(encoded).decode()
    # (With NameFormat uri, as Shibboleth IdP's SAML2String encoder also sends it to Entra.)
    assert re.search(r'<(\w+:)?Attribute Name="IDPEmail"[ >]', xml)
    assert read.ava == {"IDPEmail": ["alice@example.org"]}
    # Multi-factor done: Microsoft's multipleauthn, so the tenant does not ask again.
    assert read.authn_info()[0][0] == contexts.MS_MULTIPLE_AUTHN
    assert read.assertion.issuer.text == "http://localhost:8000/saml/metadata"
    assert read.assertion.conditions.audience_restriction[0].audience[0].text == ENTRA
    # Signed with RSA-SHA256.
    assert 'Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"' in xml


def test_a_password_only_sign_in_is_not_claimed_as_mfa(
    client: Client, alice: Any, make_sp: Any
) -> None:
    sp = _entra(make_sp, mfa_rule="never")
    signed_in(client, alice, amr=("pwd",))
    read, _encoded = _sign_in_to_office(client, sp)
    assert read.authn_info()[0][0] == contexts.PASSWORD_PROTECTED


def test_the_tenant_asking_for_multipleauthn_gets_a_second_factor(
    client: Client, alice: Any, make_sp: Any
) -> None:
    sp = _entra(make_sp, mfa_rule="never")
    signed_in(client, alice, amr=("pwd",))
    _request_id, url = sp.redirect_url(
        SSO,
        requested_authn_context=RequestedAuthnContext(
            authn_context_class_ref=[AuthnContextClassRef(text=contexts.MS_MULTIPLE_AUTHN)],
            comparison="minimum",
        ),
    )
    response = client.get(_path(url))
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/")


def test_the_command_prints_the_immutable_id_the_tenant_must_have(alice: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("saml", "immutable-id", "ALICE@example.org", stdout=out)
    assert uuid.UUID(bytes_le=base64.b64decode(out.getvalue().strip())) == alice.public_id


def test_assertions_to_entra_are_signed_not_encrypted(
    client: Client, alice: Any, make_sp: Any
) -> None:
    sp = _entra(make_sp, encryption=True)
    signed_in(client, alice)
    _read, encoded = _sign_in_to_office(client, sp)
    assert "EncryptedAssertion" not in base64.b64decode(encoded).decode()
