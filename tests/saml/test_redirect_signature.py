"""The HTTP-Redirect signature over the query as the service encoded it."""

from __future__ import annotations

import base64
import re
import zlib
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.test import Client

from vahva.audit.models import AuditEvent

from .conftest import SSO, form_fields, signed_in
from .sp import TestSP, cached_pair, redirect_query

SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"


def _lower_hex(value: str) -> str:
    """URL-encoded as some platforms do it: lower-case escapes (%2f, not %2F)."""
    return re.sub(r"%[0-9A-F]{2}", lambda match: match.group(0).lower(), quote(value, safe=""))


def _signed_query(sp: TestSP, *, sigalg: str = SHA256, digest: Any = None, **kwargs: Any) -> str:
    """A query for ``sp``'s AuthnRequest, encoded with lower-case escapes and signed over
    exactly those octets with the service's key."""
    _request_id, url = sp.redirect_url(SSO, sign=False, **kwargs)
    xml = zlib.decompress(base64.b64decode(redirect_query(url)["SAMLRequest"]), -15)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    encoded = base64.b64encode(compressor.compress(xml) + compressor.flush()).decode()
    signed = (
        f"SAMLRequest={_lower_hex(encoded)}&RelayState={_lower_hex('/courses/1 x')}"
        f"&SigAlg={_lower_hex(sigalg)}"
    )
    key = serialization.load_pem_private_key(sp.pair.key_file.read_bytes(), password=None)
    signature = key.sign(  # type: ignore[union-attr]
        signed.encode(), padding.PKCS1v15(), digest or hashes.SHA256()
    )
    return f"{signed}&Signature={_lower_hex(base64.b64encode(signature).decode())}"


def test_a_query_encoded_with_lower_case_escapes_verifies(
    client: Client, alice: Any, make_sp: Any
) -> None:
    sp, _row = make_sp(require_signed_requests=True)
    signed_in(client, alice)
    query = _signed_query(sp)
    assert "%2f" in query or "%2b" in query or "%3d" in query
    response = client.get(f"/saml/sso?{query}")
    assert response.status_code == 200, response.content[:300]
    assert form_fields(response)["RelayState"] == "/courses/1 x"


def test_a_signed_parameter_given_twice_is_refused(
    client: Client, alice: Any, make_sp: Any
) -> None:
    sp, _row = make_sp(require_signed_requests=True)
    signed_in(client, alice)
    query = _signed_query(sp) + "&RelayState=https%3A%2F%2Fevil.example%2F"
    response = client.get(f"/saml/sso?{query}")
    assert response.status_code == 403
    assert "twice" in AuditEvent.objects.filter(action="saml.refused").latest("id").reason


def test_sha1_signatures_are_refused(client: Client, alice: Any, make_sp: Any) -> None:
    sp, _row = make_sp(require_signed_requests=True)
    query = _signed_query(sp, sigalg=SHA1, digest=hashes.SHA1())  # noqa: S303
    response = client.get(f"/saml/sso?{query}")
    assert response.status_code == 403
    assert "not accepted" in AuditEvent.objects.filter(action="saml.refused").latest("id").reason


@pytest.mark.parametrize("change", ["RelayState", "SAMLRequest"])
def test_a_changed_parameter_breaks_the_signature(
    client: Client, alice: Any, make_sp: Any, change: str
) -> None:
    sp, _row = make_sp(require_signed_requests=True)
    query = _signed_query(sp)
    if change == "RelayState":
        query = query.replace("RelayState=%2fcourses", "RelayState=%2fcourzes")
    else:
        query = re.sub(
            r"SAMLRequest=(.)",
            lambda m: "SAMLRequest=" + ("B" if m.group(1) != "B" else "C"),
            query,
        )
    status = client.get(f"/saml/sso?{query}").status_code
    # An edited RelayState fails the signature; an edited SAMLRequest may fail to inflate first.
    assert status == 403 if change == "RelayState" else status in (400, 403)


def test_another_services_key_does_not_verify(
    client: Client, alice: Any, make_sp: Any, idp_metadata: str
) -> None:
    sp, _row = make_sp(require_signed_requests=True)
    impostor = TestSP(idp_metadata, pair=cached_pair("impostor"))
    assert client.get(f"/saml/sso?{_signed_query(impostor)}").status_code == 403
    assert sp.entity_id == impostor.entity_id  # same issuer, other key
