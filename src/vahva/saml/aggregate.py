"""A federation's metadata aggregate: verified against the pinned certificate, then split
into its services (SAML Metadata §2.3.1 EntitiesDescriptor; the REFEDS/eduGAIN practice of
one signed aggregate with a validUntil).

Nothing in an aggregate is believed before its signature is. The checks, in order:

1. Parsed with defusedxml: no DTD, no entities (XML bombs, XXE).
2. The root is an ``md:EntitiesDescriptor`` with an ``ID`` that no other element carries.
3. Exactly one ``ds:Signature`` is a child of the root, it is the first signature in the
   document, and its one ``Reference`` points at the root (``#ID``, or ``""``: the whole
   document); only the enveloped-signature and canonicalisation transforms. Together these
   stop signature wrapping: a signature that covers some other element, a copy of the signed
   root hidden inside a forged one, or a second root-level signature xmlsec1 might pick.
4. xmlsec1 (through pysaml2's backend) verifies that signature with the pinned certificate
   only (keys inside the document are not used).
5. ``validUntil`` is present and in the future: an old, still correctly signed aggregate (with
   a service since removed, or a key since replaced) cannot be replayed.

Only then are the services read, from the same bytes that were verified.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from xml.etree import ElementTree as ET
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from saml2.sigver import CryptoBackendXmlSec1, SignatureError, XmlsecError

from . import spmeta
from .spmeta import DS, MD

NODE = "urn:oasis:names:tc:SAML:2.0:metadata:EntitiesDescriptor"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
#: Canonicalisation only: XSLT and XPath transforms can make a signature cover something
#: other than what is read, and XSLT can run arbitrary computations.
ALLOWED_TRANSFORMS = frozenset(
    {
        ENVELOPED,
        "http://www.w3.org/2001/10/xml-exc-c14n#",
        "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    }
)
#: Prefixes kept when one EntityDescriptor is written out on its own.
PREFIXES = {
    "md": MD.strip("{}"),
    "ds": DS.strip("{}"),
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "mdui": "urn:oasis:names:tc:SAML:metadata:ui",
    "mdattr": "urn:oasis:names:tc:SAML:metadata:attribute",
    "mdrpi": "urn:oasis:names:tc:SAML:metadata:rpi",
    "shibmd": "urn:mace:shibboleth:metadata:1.0",
    "alg": "urn:oasis:names:tc:SAML:metadata:algsupport",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "xs": "http://www.w3.org/2001/XMLSchema",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
    "init": "urn:oasis:names:tc:SAML:profiles:SSO:request-init",
    "idpdisc": "urn:oasis:names:tc:SAML:profiles:SSO:idp-discovery-protocol",
    "remd": "http://refeds.org/metadata",
}
for _prefix, _uri in PREFIXES.items():
    ET.register_namespace(_prefix, _uri)


class InvalidAggregate(ValueError):
    """The aggregate is refused; the message says why."""


@dataclass(frozen=True)
class Entity:
    """One service of the aggregate, as a stand-alone EntityDescriptor."""

    entity_id: str
    name: str
    metadata_xml: str


@dataclass(frozen=True)
class Aggregate:
    valid_until: dt.datetime
    #: The services (entities with an SPSSODescriptor for SAML 2.0), each entity id once.
    services: tuple[Entity, ...]
    #: Entities left out: identity providers, SAML 1 only, unusable or repeated.
    skipped: int


def _parse(data: bytes) -> Element:
    try:
        root: Element = SafeET.fromstring(data)
    except DefusedXmlException as exc:
        # XML bombs and XXE: an aggregate may not declare entities or a DTD.
        raise InvalidAggregate(f"forbidden XML construct ({type(exc).__name__})") from None
    except SafeET.ParseError as exc:
        raise InvalidAggregate(f"not XML: {exc}") from None
    if root.tag != f"{MD}EntitiesDescriptor":
        raise InvalidAggregate("not a metadata aggregate (expected md:EntitiesDescriptor)")
    return root


def check_structure(root: Element) -> str:
    """The root's ID, once the signature is known to be the root's own (module docstring, 2-3)."""
    root_id = root.get("ID") or ""
    if not root_id:
        raise InvalidAggregate("the aggregate has no ID, so no signature can cover it")
    # Two elements with the root's ID: a forged root wrapping the signed original.
    if sum(1 for element in root.iter() if element.get("ID") == root_id) != 1:
        raise InvalidAggregate("the ID of the aggregate occurs more than once")
    own = [child for child in root if child.tag == f"{DS}Signature"]
    if not own:
        raise InvalidAggregate("the aggregate is not signed")
    if len(own) > 1:
        raise InvalidAggregate("the aggregate has more than one signature")
    # The first signature in the document is the one xmlsec1 checks: it must be the root's.
    if next(root.iter(f"{DS}Signature")) is not own[0]:
        raise InvalidAggregate("another signature precedes the aggregate's own")
    references = own[0].findall(f"{DS}SignedInfo/{DS}Reference")
    if len(references) != 1:
        raise InvalidAggregate("the signature must have exactly one reference")
    # A signature over another element proves nothing about the root (signature wrapping).
    if references[0].get("URI") not in (f"#{root_id}", ""):
        raise InvalidAggregate("the signature does not cover the aggregate")
    transforms = [t.get("Algorithm") for t in references[0].iter(f"{DS}Transform")]
    if ENVELOPED not in transforms or not set(transforms) <= ALLOWED_TRANSFORMS:
        raise InvalidAggregate("the signature uses transforms other than enveloped and c14n")
    return root_id


def verify_signature(data: bytes, *, root_id: str, cert_pem: str, xmlsec: str) -> None:
    """xmlsec1 with the pinned certificate as the only key."""
    fd, cert_file = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(cert_pem)
        backend = CryptoBackendXmlSec1(xmlsec, delete_tmpfiles=True)
        try:
            valid = backend.validate_signature(data, cert_file, "pem", NODE, root_id)
        except (SignatureError, XmlsecError):
            valid = False
    finally:
        os.unlink(cert_file)
    if not valid:
        raise InvalidAggregate(
            "the signature does not verify with the federation's certificate "
            "(signed by another key, or changed after signing)"
        )


def parse_valid_until(root: Element, *, now: dt.datetime) -> dt.datetime:
    text = (root.get("validUntil") or "").strip()
    # Without an end, an old aggregate could be served again forever.
    if not text:
        raise InvalidAggregate("the aggregate has no validUntil")
    try:
        valid_until = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidAggregate(f"validUntil is not a date and time: {text[:40]!r}") from None
    if valid_until.tzinfo is None:
        valid_until = valid_until.replace(tzinfo=dt.UTC)
    if valid_until <= now:
        raise InvalidAggregate(f"the aggregate expired at {valid_until.isoformat()}")
    return valid_until


def services_of(root: Element) -> tuple[tuple[Entity, ...], int]:
    found: dict[str, Entity] = {}
    skipped = 0
    for element in root.iter(f"{MD}EntityDescriptor"):
        xml = ET.tostring(element, encoding="unicode")
        try:
            facts = spmeta.facts(xml)
        except spmeta.InvalidMetadata:
            skipped += 1  # an identity provider, or a service vahva cannot answer
            continue
        if facts.entity_id in found:
            skipped += 1
            continue
        name = (facts.display_name or facts.entity_id)[:150]
        found[facts.entity_id] = Entity(entity_id=facts.entity_id, name=name, metadata_xml=xml)
    return tuple(found.values()), skipped


def verify(data: bytes, *, cert_pem: str, now: dt.datetime, xmlsec: str) -> Aggregate:
    """The services of a signed aggregate; :class:`InvalidAggregate` when it is not trusted."""
    root = _parse(data)
    root_id = check_structure(root)
    verify_signature(data, root_id=root_id, cert_pem=cert_pem, xmlsec=xmlsec)
    valid_until = parse_valid_until(root, now=now)
    services, skipped = services_of(root)
    return Aggregate(valid_until=valid_until, services=services, skipped=skipped)
