"""An AuthnRequest as it arrives: decoded within limits, pre-parsed safely, verified by pysaml2.

Order matters: sizes are checked before anything is inflated or parsed (XML bombs, zip
bombs); the pre-parse with defusedxml refuses DTDs, entities and external references (XXE,
billion laughs) before pysaml2 or xmlsec1 sees the document; the service is looked up from
the Issuer, and only its metadata's keys verify the signature (signature wrapping: pysaml2
also demands one enveloped signature referencing the root element).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import zlib
from dataclasses import dataclass

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from saml2 import BINDING_HTTP_POST
from saml2.s_utils import OtherError, VersionMismatch
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT, NAMEID_FORMAT_UNSPECIFIED
from saml2.server import Server
from saml2.validate import NotValid

from . import contexts, errors
from .spmeta import Facts

SAMLP = "{urn:oasis:names:tc:SAML:2.0:protocol}"
SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"
_WHITESPACE = str.maketrans("", "", " \t\r\n")

#: NameID formats a service may ask for; "unspecified" gets the persistent one.
NAME_ID_FORMATS = (NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT, NAMEID_FORMAT_UNSPECIFIED)


@dataclass(frozen=True)
class Envelope:
    """The first look at a message: its XML, and who says they sent it."""

    xml: bytes
    issuer: str
    request_id: str
    #: The root element carries an enveloped ds:Signature (POST binding).
    signed: bool = False


def decode(raw: str, *, binding: str, limit: int) -> bytes:
    """The XML of a SAMLRequest parameter, refusing anything over ``limit`` bytes."""
    if len(raw) > limit * 2:
        raise errors.TooLarge("the SAMLRequest parameter is too long")
    try:
        data = base64.b64decode(raw.translate(_WHITESPACE), validate=True)
    except (binascii.Error, ValueError):
        raise errors.MalformedMessage("SAMLRequest is not base64") from None
    if binding == BINDING_HTTP_POST:
        if len(data) > limit:
            raise errors.TooLarge("the AuthnRequest is too large")
        return data
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        # Zip bomb: never inflate more than the limit, whatever the input claims.
        xml = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise errors.MalformedMessage("SAMLRequest is not DEFLATE-compressed") from None
    if len(xml) > limit or inflater.unconsumed_tail:
        raise errors.TooLarge("the AuthnRequest is too large once inflated")
    if not inflater.eof:
        raise errors.MalformedMessage("SAMLRequest is truncated")
    return xml


def envelope(xml: bytes, *, expected: str = "AuthnRequest") -> Envelope:
    """Parse with defusedxml and read the Issuer and ID, before any SAML library runs."""
    try:
        root = SafeET.fromstring(xml, forbid_dtd=True)
    except DefusedXmlException as exc:
        # Billion laughs, XXE, external DTDs: refused before pysaml2 or xmlsec1 parse it.
        raise errors.ForbiddenXml(f"forbidden XML construct ({type(exc).__name__})") from None
    except SafeET.ParseError:
        raise errors.MalformedMessage("the AuthnRequest is not well-formed XML") from None
    if root.tag != f"{SAMLP}{expected}":
        raise errors.MalformedMessage(f"the message is not a {expected}")
    issuer = root.find(f"{SAML}Issuer")
    issuer_text = (issuer.text or "").strip() if issuer is not None else ""
    if not issuer_text:
        raise errors.UnknownService(f"the {expected} names no Issuer")
    request_id = root.get("ID") or ""
    if not request_id or len(request_id) > 256:
        raise errors.MalformedMessage(f"the {expected} has no usable ID")
    signed = root.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is not None
    return Envelope(xml=xml, issuer=issuer_text, request_id=request_id, signed=signed)


@dataclass(frozen=True)
class AuthnRequest:
    """A verified AuthnRequest, in plain values (kept in the session during the sign-in)."""

    sp_entity_id: str
    request_id: str
    acs_url: str
    issued_at: dt.datetime
    name_id_format: str
    requested_contexts: tuple[str, ...]
    comparison: str | None
    force_authn: bool
    is_passive: bool


def verify(
    server: Server,
    *,
    raw: str,
    binding: str,
    facts: Facts,
    relay_state: str | None,
    sigalg: str | None,
    signature: str | None,
) -> AuthnRequest:
    """Check the signature (``server`` knows whether one is required), the destination and
    the version with pysaml2; then the ACS address against the metadata."""
    try:
        parsed = server.parse_authn_request(
            raw, binding, relay_state=relay_state, sigalg=sigalg, signature=signature
        )
    except (OtherError, VersionMismatch) as exc:
        raise errors.MalformedMessage(f"rejected: {exc}") from None
    except NotValid as exc:
        raise errors.MalformedMessage(f"not a valid AuthnRequest: {exc}") from None
    except Exception as exc:  # pysaml2 raises many types for one thing: a bad signature
        raise errors.BadSignature(f"signature: {type(exc).__name__}") from None
    if parsed is None or parsed.message is None:
        raise errors.MalformedMessage("the AuthnRequest could not be read")
    message = parsed.message
    if message.issuer is None or (message.issuer.text or "").strip() != facts.entity_id:
        raise errors.UnknownService("the Issuer changed between the two parses")
    return AuthnRequest(
        sp_entity_id=facts.entity_id,
        request_id=str(message.id),
        acs_url=_acs(message, facts),
        issued_at=_instant(str(message.issue_instant or "")),
        name_id_format=_name_id_format(message),
        requested_contexts=_contexts(message),
        comparison=_comparison(message),
        force_authn=str(message.force_authn).lower() in ("true", "1"),
        is_passive=str(message.is_passive).lower() in ("true", "1"),
    )


def _acs(message: object, facts: Facts) -> str:
    """The ACS the response goes to: exactly one of the metadata's HTTP-POST addresses."""
    url = getattr(message, "assertion_consumer_service_url", None)
    index = getattr(message, "assertion_consumer_service_index", None)
    binding = getattr(message, "protocol_binding", None)
    if binding and binding != BINDING_HTTP_POST:
        raise errors.UnknownAcs(f"response binding {binding} is not supported (only HTTP-POST)")
    if url:
        # Open redirect / assertion theft: an address the service's metadata does not list
        # would hand the person's assertion to whoever wrote the request.
        if url not in {acs.location for acs in facts.acs}:
            raise errors.UnknownAcs("AssertionConsumerServiceURL is not in the metadata")
        return str(url)
    if index is not None:
        found = facts.acs_by_index(int(index)) if str(index).isdigit() else None
        if found is None:
            raise errors.UnknownAcs("AssertionConsumerServiceIndex is not in the metadata")
        return found.location
    return facts.default_acs().location


def _instant(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise errors.MalformedMessage("IssueInstant is not a time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def _name_id_format(message: object) -> str:
    policy = getattr(message, "name_id_policy", None)
    return str(getattr(policy, "format", None) or NAMEID_FORMAT_UNSPECIFIED)


def _contexts(message: object) -> tuple[str, ...]:
    requested = getattr(message, "requested_authn_context", None)
    if requested is None:
        return ()
    refs = getattr(requested, "authn_context_class_ref", None) or []
    return tuple((ref.text or "").strip() for ref in refs if (ref.text or "").strip())


def _comparison(message: object) -> str | None:
    requested = getattr(message, "requested_authn_context", None)
    if requested is None:
        return None
    return str(getattr(requested, "comparison", None) or contexts.Comparison.EXACT)


def check_fresh(request: AuthnRequest, *, now: dt.datetime, max_age: int, skew: int = 60) -> None:
    """Refuse a request issued too long ago or in the future (a captured request replayed
    after its id has been forgotten)."""
    age = (now - request.issued_at).total_seconds()
    if age > max_age or age < -skew:
        raise errors.Expired("IssueInstant is outside the accepted window")
