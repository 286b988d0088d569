"""python3-saml (OneLogin's SAML toolkit) as a service provider of vahva's IdP, over HTTP:
it builds a signed AuthnRequest asking for REFEDS MFA, Bob signs in at the live vahva with
his password and authenticator code, and the toolkit validates vahva's signed Response."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from tests.saml.sp import cached_pair
from vahva.clock import FakeClock

from .conftest import Person
from .saml_browser import sign_in_to_saml

pytestmark = pytest.mark.django_db(transaction=True)

SP = "https://learn.demo.example"
REFEDS_MFA = "https://refeds.org/profile/mfa"


def _body(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if "-----" not in line)


def _settings(idp_url: str, idp_cert: str) -> dict[str, Any]:
    pair = cached_pair("python3-saml")
    return {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": f"{SP}/saml/metadata",
            "assertionConsumerService": {
                "url": f"{SP}/saml/acs",
                "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
            },
            "NameIDFormat": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            "x509cert": _body(pair.cert_pem),
            "privateKey": pair.key_file.read_text(),
        },
        "idp": {
            "entityId": f"{idp_url}/saml/metadata",
            "singleSignOnService": {
                "url": f"{idp_url}/saml/sso",
                "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
            },
            "x509cert": _body(idp_cert),
        },
        "security": {
            "authnRequestsSigned": True,
            "wantAssertionsSigned": True,
            "wantMessagesSigned": True,
            "signatureAlgorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "digestAlgorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
            "requestedAuthnContext": [REFEDS_MFA],
            "requestedAuthnContextComparison": "exact",
            "failOnAuthnContextMismatch": True,
        },
    }


def _request_data(path: str, **post: str) -> dict[str, Any]:
    return {
        "https": "on",
        "http_host": urlsplit(SP).hostname,
        "script_name": path,
        "get_data": {},
        "post_data": post,
    }


def test_python3_saml_signs_in_with_refeds_mfa(
    live_server: Any, bob: Person, clock: FakeClock, settings: Any
) -> None:
    settings.VAHVA = {**settings.VAHVA, "PUBLIC_URL": live_server.url}
    from vahva.saml import idp, keys, providers

    idp_cert = keys.ensure(idp.key_dir()).cert_pem
    sp_settings = _settings(live_server.url, idp_cert)
    metadata = OneLogin_Saml2_Settings(sp_settings, sp_validation_only=True).get_sp_metadata()
    # The service needs no second factor by itself: REFEDS MFA in its request is what asks.
    providers.add(metadata=metadata, name="Demo Learn", mfa_rule="never")

    login = OneLogin_Saml2_Auth(_request_data("/login"), sp_settings)
    sso_url = login.login(return_to=f"{SP}/courses")
    request_id = login.get_last_request_id()
    assert "Signature=" in sso_url

    with httpx.Client(timeout=15) as browser:
        posted = sign_in_to_saml(browser, sso_url, person=bob, clock=clock, expect_mfa=True)
    assert posted.action == f"{SP}/saml/acs"
    assert posted.fields["RelayState"] == f"{SP}/courses"

    acs = OneLogin_Saml2_Auth(
        _request_data("/saml/acs", SAMLResponse=posted.fields["SAMLResponse"]), sp_settings
    )
    acs.process_response(request_id=request_id)
    assert acs.get_errors() == [], acs.get_last_error_reason()
    assert acs.is_authenticated()
    assert acs.get_last_authn_contexts() == [REFEDS_MFA]
    attributes = acs.get_attributes()
    assert attributes["urn:oid:0.9.2342.19200300.100.1.3"] == [bob.email]  # mail
    assert attributes["urn:oid:1.3.6.1.4.1.5923.1.1.1.6"] == [bob.email]  # eduPersonPrincipalName
    assert acs.get_nameid_format() == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    assert "bob" not in acs.get_nameid()

    # A response tampered with on the way is rejected by the toolkit.
    import base64

    xml = base64.b64decode(posted.fields["SAMLResponse"]).decode()
    forged = base64.b64encode(xml.replace(bob.email, "mallory@demo.example").encode()).decode()
    tampered = OneLogin_Saml2_Auth(_request_data("/saml/acs", SAMLResponse=forged), sp_settings)
    tampered.process_response(request_id=request_id)
    assert not tampered.is_authenticated()
