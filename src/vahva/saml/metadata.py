"""The IdP's own metadata (SAML Metadata §2.4.3), written out plainly, then signed.

pysaml2's generator advertises every algorithm xmlsec1 knows (MD5 and SHA-1 included) with
generated namespace prefixes; services are better served by a short document that lists
what vahva really does: RSA-SHA256 signatures, the two SSO (and SLO) bindings, persistent and
transient NameIDs, its scope, and every certificate still in use (the new one first).

Signed (SAML Metadata §3, enveloped XML signature over the EntityDescriptor, RSA-SHA256,
exclusive c14n) with the active signing key, and given a ``validUntil``: a federation
registrar or service that fetches it over an untrusted path can check it came from vahva,
and a stale copy stops being believed.
"""

from __future__ import annotations

import datetime as dt
from xml.sax.saxutils import escape, quoteattr

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT
from saml2.sigver import CryptoBackendXmlSec1

NODE = "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"

TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#"
    xmlns:alg="urn:oasis:names:tc:SAML:metadata:algsupport"
    xmlns:shibmd="urn:mace:shibboleth:metadata:1.0"
    xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui"
    entityID={entity_id}{signed_attributes}>{signature}
  <md:Extensions>
    <alg:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
    <alg:SigningMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
  </md:Extensions>
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"
      WantAuthnRequestsSigned="false">
    <md:Extensions>{scope}
      <mdui:UIInfo><mdui:DisplayName xml:lang="en">{name}</mdui:DisplayName></mdui:UIInfo>
    </md:Extensions>
{keys}
    <md:SingleLogoutService Binding="{redirect}" Location={slo}/>
    <md:SingleLogoutService Binding="{post}" Location={slo}/>
    <md:NameIDFormat>{persistent}</md:NameIDFormat>
    <md:NameIDFormat>{transient}</md:NameIDFormat>
    <md:SingleSignOnService Binding="{redirect}" Location={sso}/>
    <md:SingleSignOnService Binding="{post}" Location={sso}/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""

SIGNATURE = """
  <ds:Signature>
    <ds:SignedInfo>
      <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
      <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
      <ds:Reference URI="#{id}">
        <ds:Transforms>
          <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
          <ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
        </ds:Transforms>
        <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
        <ds:DigestValue></ds:DigestValue>
      </ds:Reference>
    </ds:SignedInfo>
    <ds:SignatureValue></ds:SignatureValue>
    <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
  </ds:Signature>"""

KEY = """    <md:KeyDescriptor use="signing">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>"""


def _base64_of(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if "-----" not in line)


def render(
    *,
    entity_id: str,
    sso_url: str,
    slo_url: str,
    certs: list[str],
    scope: str,
    name: str,
    document_id: str = "",
    valid_until: dt.datetime | None = None,
) -> str:
    """The metadata; with ``document_id`` and ``valid_until``, a template for :func:`sign`
    (the signature's certificate is the first of ``certs``, the active one)."""
    signed = bool(document_id and valid_until)
    return TEMPLATE.format(
        entity_id=quoteattr(entity_id),
        signed_attributes=(
            f' ID="{document_id}" validUntil="{valid_until:%Y-%m-%dT%H:%M:%SZ}"'
            if signed and valid_until
            else ""
        ),
        signature=SIGNATURE.format(id=document_id, cert=_base64_of(certs[0])) if signed else "",
        sso=quoteattr(sso_url),
        slo=quoteattr(slo_url),
        scope=f'\n      <shibmd:Scope regexp="false">{escape(scope)}</shibmd:Scope>'
        if scope
        else "",
        name=escape(name),
        keys="\n".join(KEY.format(cert=_base64_of(pem)) for pem in certs),
        persistent=NAMEID_FORMAT_PERSISTENT,
        transient=NAMEID_FORMAT_TRANSIENT,
        redirect=BINDING_HTTP_REDIRECT,
        post=BINDING_HTTP_POST,
    )


def sign(template: str, *, document_id: str, key_file: str, xmlsec: str) -> str:
    """Fill in the signature of a :func:`render` template with xmlsec1 (through pysaml2)."""
    backend = CryptoBackendXmlSec1(xmlsec, delete_tmpfiles=True)
    signed: str = backend.sign_statement(template, NODE, key_file, document_id)
    return signed
