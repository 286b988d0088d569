"""Hostile AuthnRequests: each is refused with a clear page, a 4xx and an audit row."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client
from lxml import etree

from vahva.audit.models import AuditEvent

from .conftest import SSO, form_fields, signed_in
from .sp import TestSP, cached_pair, deflate, redirect_query

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
DS = "http://www.w3.org/2000/09/xmldsig#"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _refused(response: Any, status: int, *, service: str = "") -> AuditEvent:
    assert response.status_code == status, response.content[:500]
    assert b"<h1>" in response.content  # vahva's error page, not a traceback
    event = AuditEvent.objects.filter(action="saml.refused").latest("id")
    assert event.outcome == "failure"
    if service:
        assert event.data["service"] == service
    return event


def _request_xml(sp: TestSP, **kwargs: Any) -> bytes:
    _request_id, url = sp.redirect_url(SSO, **kwargs)
    import zlib

    raw = base64.b64decode(redirect_query(url)["SAMLRequest"])
    return zlib.decompress(raw, -15)


def test_an_unknown_service_is_refused(client: Client, db: Any, idp_metadata: str) -> None:
    stranger = TestSP(idp_metadata, entity_id="https://evil.example/sp")
    _request_id, url = stranger.redirect_url(SSO)
    event = _refused(client.get(_path(url)), 400)
    assert "UnknownService" in event.reason


def test_an_acs_url_not_in_the_metadata_is_refused(
    client: Client, alice: Any, service: Any
) -> None:
    sp, row = service
    signed_in(client, alice)
    _request_id, url = sp.redirect_url(
        SSO, assertion_consumer_service_url="https://evil.example/steal"
    )
    response = client.get(_path(url))
    event = _refused(response, 400, service=row.entity_id)
    assert "UnknownAcs" in event.reason
    assert b"evil.example" not in response.content


def test_a_replayed_request_id_is_refused(client: Client, alice: Any, service: Any) -> None:
    sp, row = service
    signed_in(client, alice)
    _request_id, url = sp.redirect_url(SSO)
    assert client.get(_path(url)).status_code == 200
    event = _refused(client.get(_path(url)), 400, service=row.entity_id)
    assert "Replayed" in event.reason


def test_an_unsigned_request_is_refused_where_signing_is_required(
    client: Client, alice: Any, make_sp: Any
) -> None:
    sp, row = make_sp(require_signed_requests=True)
    signed_in(client, alice)
    _request_id, url = sp.redirect_url(SSO, sign=False)
    event = _refused(client.get(_path(url)), 403, service=row.entity_id)
    assert "BadSignature" in event.reason
    _request_id, form = sp.post_form(SSO, sign=False)
    _refused(client.post("/saml/sso", form), 403, service=row.entity_id)


def test_a_signed_request_passes_where_signing_is_required(
    client: Client, alice: Any, make_sp: Any
) -> None:
    sp, _row = make_sp(require_signed_requests=True, sign_requests=True)
    signed_in(client, alice)
    request_id, url = sp.redirect_url(SSO, sign=True)
    assert "Signature=" in url
    fields = form_fields(client.get(_path(url)))
    assert sp.read(fields["SAMLResponse"], request_id).ava["mail"] == ["alice@example.org"]
    request_id, form = sp.post_form(SSO, sign=True)
    resumed = client.get(client.post("/saml/sso", form)["Location"])
    assert sp.read(form_fields(resumed)["SAMLResponse"], request_id).ava


def test_a_request_signed_with_another_key_is_refused(
    client: Client, alice: Any, make_sp: Any, idp_metadata: str
) -> None:
    _sp, row = make_sp(require_signed_requests=True, sign_requests=True)
    impostor = TestSP(idp_metadata, sign_requests=True, pair=cached_pair("impostor"))
    _request_id, url = impostor.redirect_url(SSO, sign=True)
    _refused(client.get(_path(url)), 403, service=row.entity_id)
    _request_id, form = impostor.post_form(SSO, sign=True)
    _refused(client.post("/saml/sso", form), 403, service=row.entity_id)


def test_a_forged_signature_on_an_unsigned_service_is_still_checked(
    client: Client, alice: Any, service: Any, idp_metadata: str
) -> None:
    _sp, row = service
    impostor = TestSP(idp_metadata, sign_requests=True, pair=cached_pair("impostor"))
    _request_id, url = impostor.redirect_url(SSO, sign=True)
    _refused(client.get(_path(url)), 403, service=row.entity_id)


def test_a_tampered_signed_post_request_is_refused(
    client: Client, alice: Any, make_sp: Any
) -> None:
    sp, row = make_sp(require_signed_requests=True, sign_requests=True)
    _request_id, form = sp.post_form(SSO, sign=True)
    signed = base64.b64decode(form["SAMLRequest"])
    # After signing, the request is changed to ask for a fresh sign-in to be skipped...
    xml = signed.replace(b' Version="2.0"', b' Version="2.0" ProviderName="evil"', 1)
    assert xml != signed
    form["SAMLRequest"] = base64.b64encode(xml).decode()
    _refused(client.post("/saml/sso", form), 403, service=row.entity_id)


def test_signature_wrapping_is_refused(client: Client, alice: Any, make_sp: Any) -> None:
    """XSW: the signed original is hidden inside an attacker's request that asks for another
    ACS; the signature still verifies over the original, but it does not sign the root."""
    sp, row = make_sp(require_signed_requests=True, sign_requests=True)
    signed_in(client, alice)
    _request_id, form = sp.post_form(SSO, sign=True)
    original = etree.fromstring(base64.b64decode(form["SAMLRequest"]))
    evil = etree.fromstring(etree.tostring(original))
    evil.set("ID", "_evil" + original.get("ID"))
    evil.set("ForceAuthn", "false")
    signature = evil.find(f"{{{DS}}}Signature")
    assert signature is not None
    extensions = etree.SubElement(evil, f"{{{SAMLP}}}Extensions")
    original_copy = etree.fromstring(etree.tostring(original))
    extensions.append(original_copy)
    # Keep the Signature in the evil root (it references the original's ID) and put the
    # Extensions right after the Issuer, where the schema allows them.
    evil.remove(extensions)
    evil.insert(list(evil).index(signature) + 1, extensions)
    form["SAMLRequest"] = base64.b64encode(etree.tostring(evil)).decode()
    response = client.post("/saml/sso", form)
    assert response.status_code in (400, 403)
    _refused(response, response.status_code, service=row.entity_id)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_a" Version="2.0"
 IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"
 >&lol9;</saml:Issuer></samlp:AuthnRequest>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_a" Version="2.0"
 IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"
 >&xxe;</saml:Issuer></samlp:AuthnRequest>"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_xml_bombs_and_external_entities_are_refused(client: Client, db: Any, xml: bytes) -> None:
    event = _refused(client.get("/saml/sso?" + urlencode({"SAMLRequest": deflate(xml)})), 400)
    assert "ForbiddenXml" in event.reason
    posted = client.post("/saml/sso", {"SAMLRequest": base64.b64encode(xml).decode()})
    _refused(posted, 400)
    assert b"root:" not in posted.content


def test_oversized_messages_are_refused(client: Client, db: Any, settings: Any) -> None:
    settings.VAHVA = {**settings.VAHVA, "SAML_MAX_MESSAGE_BYTES": 4096}
    # A small deflated message that inflates far beyond the limit (a zip bomb).
    bomb = deflate(b"<samlp:AuthnRequest>" + b" " * 5_000_000)
    assert len(bomb) < 8192
    event = _refused(client.get("/saml/sso?" + urlencode({"SAMLRequest": bomb})), 413)
    assert "TooLarge" in event.reason
    huge = base64.b64encode(b"<x/>" * 3000).decode()
    _refused(client.post("/saml/sso", {"SAMLRequest": huge}), 413)


@pytest.mark.parametrize(
    "value",
    ["not base64!!", base64.b64encode(b"not deflate at all").decode(), ""],
    ids=["bad-base64", "bad-deflate", "empty"],
)
def test_bad_encodings_get_a_clear_page(client: Client, db: Any, value: str) -> None:
    event = _refused(client.get("/saml/sso?" + urlencode({"SAMLRequest": value})), 400)
    assert "MalformedMessage" in event.reason


def test_not_xml_and_not_an_authn_request(client: Client, db: Any) -> None:
    for xml in (
        b"<unclosed",
        b"<samlp:LogoutRequest xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'/>",
    ):
        _refused(client.get("/saml/sso?" + urlencode({"SAMLRequest": deflate(xml)})), 400)


@pytest.mark.parametrize("shift", [11 * 60, -5 * 60], ids=["too-old", "from-the-future"])
def test_a_stale_request_is_refused(
    client: Client, alice: Any, service: Any, clock: Any, shift: int
) -> None:
    sp, row = service
    _request_id, url = sp.redirect_url(SSO)
    issued = redirect_query(url)  # pysaml2 stamps IssueInstant with the real time
    assert issued
    clock.current = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=shift)
    event = _refused(client.get(_path(url)), 400, service=row.entity_id)
    assert "Expired" in event.reason


def test_an_unknown_ticket_is_refused(client: Client, db: Any) -> None:
    _refused(client.get("/saml/sso/continue/nope"), 400)


def test_a_forged_resume_address_is_refused(client: Client, db: Any) -> None:
    event = _refused(client.get("/saml/sso/resume?state=eyJmb3JnZWQiOjF9:abc:def"), 400)
    assert "MalformedMessage" in event.reason
