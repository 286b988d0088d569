"""Web browser SSO through vahva's pages, against a pysaml2 service provider."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.test import Client
from saml2 import samlp
from saml2.saml import AuthnContextClassRef
from saml2.samlp import RequestedAuthnContext

from vahva.audit.models import AuditEvent
from vahva.saml import contexts

from .conftest import SSO, form_fields, signed_in
from .sp import ACS


def _sso_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_metadata_names_both_bindings_and_the_signing_key(client: Client, db: Any) -> None:
    response = client.get("/saml/metadata")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/samlmetadata+xml"
    xml = response.content.decode()
    assert "IDPSSODescriptor" in xml
    assert "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" in xml
    assert "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" in xml
    assert 'Location="http://localhost:8000/saml/sso"' in xml
    assert "X509Certificate" in xml


def test_signed_in_with_mfa_gets_a_signed_response_with_refeds_mfa(
    client: Client, alice: Any, service: Any
) -> None:
    sp, row = service
    signed_in(client, alice)
    request_id, url = sp.redirect_url(SSO, relay_state="course-42")
    response = client.get(_sso_path(url))
    assert response.status_code == 200, response.content[:500]
    fields = form_fields(response)
    assert fields["action"] == ACS
    assert fields["RelayState"] == "course-42"
    read = sp.read(fields["SAMLResponse"], request_id)
    assert read.authn_info()[0][0] == contexts.REFEDS_MFA
    assert read.ava["mail"] == ["alice@example.org"]
    assert read.ava["eduPersonPrincipalName"] == ["alice@example.org"]
    assert read.name_id.format == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    event = AuditEvent.objects.get(action="saml.sso")
    assert event.data["service"] == row.entity_id


def test_not_signed_in_goes_to_sign_in_and_comes_back_to_a_get_url(
    client: Client, db: Any, service: Any
) -> None:
    sp, _row = service
    _request_id, url = sp.redirect_url(SSO)
    response = client.get(_sso_path(url))
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/")
    next_url = parse_qs(urlsplit(response["Location"]).query)["next"][0]
    assert next_url.startswith("/saml/sso/continue/")


def test_password_only_gets_sfa_where_the_service_needs_no_mfa(
    client: Client, alice: Any, make_sp: Any
) -> None:
    sp, _row = make_sp(mfa_rule="never")
    signed_in(client, alice, amr=("pwd",))
    request_id, url = sp.redirect_url(SSO)
    read = sp.read(form_fields(client.get(_sso_path(url)))["SAMLResponse"], request_id)
    assert read.authn_info()[0][0] == contexts.REFEDS_SFA


def test_requested_refeds_mfa_sends_a_password_only_sign_in_back_for_a_second_factor(
    client: Client, alice: Any, make_sp: Any
) -> None:
    sp, _row = make_sp(mfa_rule="never")
    signed_in(client, alice, amr=("pwd",))
    _request_id, url = sp.redirect_url(
        SSO,
        requested_authn_context=RequestedAuthnContext(
            authn_context_class_ref=[AuthnContextClassRef(text=contexts.REFEDS_MFA)],
            comparison="exact",
        ),
    )
    response = client.get(_sso_path(url))
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/")


def test_an_exact_context_vahva_cannot_meet_is_answered_no_authn_context(
    client: Client, alice: Any, service: Any
) -> None:
    sp, _row = service
    signed_in(client, alice)
    _request_id, url = sp.redirect_url(
        SSO,
        requested_authn_context=RequestedAuthnContext(
            authn_context_class_ref=[AuthnContextClassRef(text="urn:example:retina-scan")],
            comparison="exact",
        ),
    )
    response = client.get(_sso_path(url))
    fields = form_fields(response)
    xml = samlp.response_from_string(
        __import__("base64").b64decode(fields["SAMLResponse"]).decode()
    )
    assert xml.status.status_code.value == samlp.STATUS_RESPONDER
    assert xml.status.status_code.status_code.value == samlp.STATUS_NO_AUTHN_CONTEXT
    assert xml.assertion == []
    assert AuditEvent.objects.filter(action="saml.refused").exists()


def test_force_authn_asks_for_a_fresh_sign_in(client: Client, alice: Any, service: Any) -> None:
    sp, _row = service
    signed_in(client, alice)
    _request_id, url = sp.redirect_url(SSO, force_authn="true")
    response = client.get(_sso_path(url))
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/")


def test_is_passive_without_a_sign_in_is_answered_no_passive(
    client: Client, db: Any, service: Any
) -> None:
    sp, _row = service
    _request_id, url = sp.redirect_url(SSO, is_passive="true")
    fields = form_fields(client.get(_sso_path(url)))
    xml = samlp.response_from_string(
        __import__("base64").b64decode(fields["SAMLResponse"]).decode()
    )
    assert xml.status.status_code.status_code.value == samlp.STATUS_NO_PASSIVE


def test_post_binding_goes_through_a_get_address(client: Client, alice: Any, service: Any) -> None:
    sp, _row = service
    signed_in(client, alice)
    request_id, form = sp.post_form(SSO, relay_state="rs-post")
    response = client.post("/saml/sso", form)
    assert response.status_code == 302
    assert response["Location"].startswith("/saml/sso/resume?state=")
    answered = client.get(response["Location"])
    fields = form_fields(answered)
    assert fields["RelayState"] == "rs-post"
    assert sp.read(fields["SAMLResponse"], request_id).ava["mail"] == ["alice@example.org"]
    # The resume address is single-use.
    again = client.get(response["Location"])
    assert again.status_code == 400


def test_the_assertion_is_encrypted_when_the_metadata_has_an_encryption_key(
    client: Client, alice: Any, make_sp: Any
) -> None:
    sp, _row = make_sp(encryption=True)
    signed_in(client, alice)
    request_id, url = sp.redirect_url(SSO)
    encoded = form_fields(client.get(_sso_path(url)))["SAMLResponse"]
    xml = __import__("base64").b64decode(encoded).decode()
    assert "EncryptedAssertion" in xml
    assert "alice@example.org" not in xml  # not readable on the way
    assert sp.read(encoded, request_id).ava["mail"] == ["alice@example.org"]


def test_the_response_is_signed_with_rsa_sha256(client: Client, alice: Any, service: Any) -> None:
    sp, _row = service
    signed_in(client, alice)
    _request_id, url = sp.redirect_url(SSO)
    encoded = form_fields(client.get(_sso_path(url)))["SAMLResponse"]
    xml = __import__("base64").b64decode(encoded).decode()
    assert xml.count('Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"') == 2
    assert "rsa-sha1" not in xml


def test_persistent_name_id_is_stable_and_pairwise_transient_is_new_each_time(
    client: Client, alice: Any, make_sp: Any, idp_metadata: str
) -> None:
    from saml2.saml import NAMEID_FORMAT_TRANSIENT
    from saml2.samlp import NameIDPolicy

    sp, _row = make_sp()
    other, _other_row = make_sp(
        entity_id="https://other.example/sp", acs="https://other.example/acs"
    )
    signed_in(client, alice)

    def name_id(provider: Any, **kwargs: Any) -> Any:
        request_id, url = provider.redirect_url(SSO, **kwargs)
        return provider.read(
            form_fields(client.get(_sso_path(url)))["SAMLResponse"], request_id
        ).name_id

    first, second, elsewhere = name_id(sp), name_id(sp), name_id(other)
    assert first.text == second.text
    assert first.text != elsewhere.text
    assert str(alice.public_id) not in first.text
    assert alice.public_id.hex not in first.text
    assert "alice" not in first.text
    policy = NameIDPolicy(format=NAMEID_FORMAT_TRANSIENT, allow_create="true")
    one, two = name_id(sp, name_id_policy=policy), name_id(sp, name_id_policy=policy)
    assert one.format == NAMEID_FORMAT_TRANSIENT
    assert one.text != two.text != first.text


def test_only_the_requested_and_allowed_attributes_are_released(
    client: Client, alice: Any, make_sp: Any
) -> None:
    sp, _row = make_sp(
        release=["mail", "displayName", "eduPersonPrincipalName"],
        requested=[{"name": "urn:oid:0.9.2342.19200300.100.1.3", "friendly_name": "mail"}],
    )
    assert "RequestedAttribute" in sp.metadata()
    signed_in(client, alice)
    request_id, url = sp.redirect_url(SSO)
    read = sp.read(form_fields(client.get(_sso_path(url)))["SAMLResponse"], request_id)
    assert set(read.ava) == {"mail"}


def test_the_posting_page_may_post_only_to_the_acs_and_runs_no_inline_script(
    client: Client, alice: Any, service: Any
) -> None:
    sp, _row = service
    signed_in(client, alice)
    _request_id, url = sp.redirect_url(SSO)
    response = client.get(_sso_path(url))
    policy = response["Content-Security-Policy"]
    assert "form-action 'self' https://sp.example;" in policy
    assert "script-src 'self';" in policy
    page = response.content.decode()
    assert '<script src="/static/saml/autopost.js" defer></script>' in page
    assert "<script>" not in page
    assert client.get("/static/saml/autopost.js").status_code == 200


def test_force_authn_round_trip_issues_after_the_fresh_sign_in(
    client: Client, alice: Any, service: Any, clock: Any
) -> None:
    """Signed in an hour ago; ForceAuthn sends the person through the password and code
    pages again, and the response says when that fresh sign-in happened."""
    import datetime as dt

    from tests.helpers import code_for, sign_in_password
    from vahva.methods import service as methods
    from vahva.methods.totp import generate_secret

    clock.current = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    secret = generate_secret()
    methods.save_new(alice, "totp", now=clock() - dt.timedelta(days=1), secret=secret)
    signed_in(client, alice)
    clock.current += dt.timedelta(hours=1)
    sp, _row = service
    request_id, url = sp.redirect_url(SSO, force_authn="true")
    to_sign_in = client.get(_sso_path(url))
    assert to_sign_in.status_code == 302
    next_url = parse_qs(urlsplit(to_sign_in["Location"]).query)["next"][0]
    password = sign_in_password(client, alice.email, next=next_url)
    assert password["Location"] == "/signin/verify/"
    verified = client.post("/signin/verify/", {"code": code_for(secret, clock)})
    assert verified.status_code == 302
    assert verified["Location"] == next_url
    read = sp.read(form_fields(client.get(next_url))["SAMLResponse"], request_id)
    statement = read.assertion.authn_statement[0]
    assert statement.authn_instant == clock.current.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert statement.authn_context.authn_context_class_ref.text == contexts.REFEDS_MFA


def test_a_name_id_format_vahva_does_not_issue_is_answered_invalid_name_id_policy(
    client: Client, alice: Any, service: Any
) -> None:
    from saml2.saml import NAMEID_FORMAT_EMAILADDRESS
    from saml2.samlp import NameIDPolicy

    sp, _row = service
    signed_in(client, alice)
    _request_id, url = sp.redirect_url(
        SSO, name_id_policy=NameIDPolicy(format=NAMEID_FORMAT_EMAILADDRESS)
    )
    fields = form_fields(client.get(_sso_path(url)))
    xml = samlp.response_from_string(
        __import__("base64").b64decode(fields["SAMLResponse"]).decode()
    )
    assert xml.status.status_code.status_code.value == samlp.STATUS_INVALID_NAMEID_POLICY
    assert xml.assertion == []
