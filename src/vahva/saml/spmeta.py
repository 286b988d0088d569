"""What vahva reads from a service's metadata: its entity id, ACS addresses, whether it signs
its requests, which attributes it asks for, whether it has an encryption key.

Parsed with defusedxml (no DTDs, no entities, no external references): metadata comes from
an admin's upload, but may have come from anywhere before that.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.attributemaps import saml_uri

MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"
PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
MDATTR = "{urn:oasis:names:tc:SAML:metadata:attribute}"
SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"
#: The entity attribute that carries entity categories (REFEDS, SAML V2.0 Metadata Extension
#: for Entity Attributes).
ENTITY_CATEGORY = "http://macedir.org/entity-category"
_FROM_URI: dict[str, str] = saml_uri.MAP["fro"]  # codespell:ignore


class InvalidMetadata(ValueError):
    """The file is not SAML metadata of one service provider; the message says why."""


@dataclass(frozen=True)
class Acs:
    location: str
    index: int | None
    is_default: bool


@dataclass(frozen=True)
class Facts:
    entity_id: str
    #: HTTP-POST assertion consumer services, in document order.
    acs: tuple[Acs, ...]
    authn_requests_signed: bool
    has_encryption_key: bool
    #: Friendly names of the RequestedAttributes, or None when the metadata lists none.
    requested: frozenset[str] | None
    #: A display name from the metadata (mdui:DisplayName or ServiceName), if any.
    display_name: str
    #: SingleLogoutService: (binding, where the LogoutResponse goes), Redirect and POST only.
    slo: tuple[tuple[str, str], ...] = ()
    #: Certificates (PEM) of the KeyDescriptors for signing (or for any use).
    signing_certs: tuple[str, ...] = ()
    #: Entity categories the metadata asserts (http://macedir.org/entity-category values).
    entity_categories: frozenset[str] = frozenset()

    def default_acs(self) -> Acs:
        for acs in self.acs:
            if acs.is_default:
                return acs
        return min(self.acs, key=lambda acs: acs.index if acs.index is not None else 0)

    def acs_by_index(self, index: int) -> Acs | None:
        return next((acs for acs in self.acs if acs.index == index), None)


def _root(xml: str) -> Element:
    try:
        root: Element = SafeET.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
    except DefusedXmlException as exc:
        # XXE and entity bombs: metadata may not declare entities or a DTD.
        raise InvalidMetadata(f"forbidden XML construct ({type(exc).__name__})") from None
    except SafeET.ParseError as exc:
        raise InvalidMetadata(f"not XML: {exc}") from None
    if root.tag != f"{MD}EntityDescriptor":
        raise InvalidMetadata("expected one md:EntityDescriptor (an aggregate is not supported)")
    return root


def _pem(base64_text: str) -> str:
    body = "".join(base64_text.split())
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


@functools.lru_cache(maxsize=256)
def facts(xml: str) -> Facts:
    root = _root(xml)
    entity_id = (root.get("entityID") or "").strip()
    if not entity_id:
        raise InvalidMetadata("the EntityDescriptor has no entityID")
    sp = root.find(f"{MD}SPSSODescriptor")
    if sp is None or PROTOCOL not in (sp.get("protocolSupportEnumeration") or ""):
        raise InvalidMetadata("no SPSSODescriptor for SAML 2.0")
    acs = []
    for element in sp.findall(f"{MD}AssertionConsumerService"):
        if element.get("Binding") != BINDING_HTTP_POST or not element.get("Location"):
            continue
        index = element.get("index")
        acs.append(
            Acs(
                location=str(element.get("Location")),
                index=int(index) if index and index.isdigit() else None,
                is_default=element.get("isDefault") == "true",
            )
        )
    if not acs:
        raise InvalidMetadata("no AssertionConsumerService with the HTTP-POST binding")
    has_encryption_key = any(
        descriptor.get("use") in (None, "encryption")
        and descriptor.find(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate") is not None
        for descriptor in sp.findall(f"{MD}KeyDescriptor")
    )
    requested: set[str] = set()
    names: list[str] = []
    for service in sp.findall(f"{MD}AttributeConsumingService"):
        for attribute in service.findall(f"{MD}RequestedAttribute"):
            name = attribute.get("Name") or ""
            requested.add(_FROM_URI.get(name, attribute.get("FriendlyName") or name))
        names += [(n.text or "").strip() for n in service.findall(f"{MD}ServiceName")]
    mdui = "{urn:oasis:names:tc:SAML:metadata:ui}"
    names = [
        (n.text or "").strip() for n in sp.iter(f"{mdui}DisplayName") if (n.text or "").strip()
    ] + names
    slo = tuple(
        (
            str(element.get("Binding")),
            str(element.get("ResponseLocation") or element.get("Location")),
        )
        for element in sp.findall(f"{MD}SingleLogoutService")
        if element.get("Binding") in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST)
        and (element.get("ResponseLocation") or element.get("Location"))
    )
    signing_certs = tuple(
        _pem(element.text or "")
        for descriptor in sp.findall(f"{MD}KeyDescriptor")
        if descriptor.get("use") in (None, "signing")
        for element in descriptor.iter(f"{DS}X509Certificate")
        if (element.text or "").strip()
    )
    categories = frozenset(
        (value.text or "").strip()
        for attribute in root.findall(f"{MD}Extensions/{MDATTR}EntityAttributes/{SAML}Attribute")
        if attribute.get("Name") == ENTITY_CATEGORY
        for value in attribute.findall(f"{SAML}AttributeValue")
        if (value.text or "").strip()
    )
    return Facts(
        entity_categories=categories,
        signing_certs=signing_certs,
        slo=slo,
        entity_id=entity_id,
        acs=tuple(acs),
        authn_requests_signed=sp.get("AuthnRequestsSigned") == "true",
        has_encryption_key=has_encryption_key,
        requested=frozenset(requested) if requested else None,
        display_name=next((name for name in names if name), ""),
    )
