"""The Response vahva sends back: signed (RSA-SHA256), the assertion signed too, and
encrypted to the service's key when its metadata has one; or an error status."""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass

from saml2 import saml
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from . import contexts
from .errors import StatusError
from .inbound import AuthnRequest
from .models import Profile

#: (single-factor, multi-factor) AuthnContextClassRef per profile, when the service asked
#: for nothing in particular.
NATIVE_CLASSES = {
    Profile.STANDARD: (contexts.REFEDS_SFA, contexts.REFEDS_MFA),
    Profile.MICROSOFT365: (contexts.PASSWORD_PROTECTED, contexts.MS_MULTIPLE_AUTHN),
}


@dataclass(frozen=True, kw_only=True)
class Subject:
    """Who the assertion is about, already computed for this service."""

    persistent_id: str
    attributes: dict[str, list[str]]


def immutable_id(public_id: uuid.UUID) -> str:
    """Microsoft 365's ImmutableID: base64 of the 16 bytes of a GUID in Active Directory's
    byte order (objectGUID), here the account's public id."""
    return base64.b64encode(public_id.bytes_le).decode("ascii")


def name_id(request: AuthnRequest, *, idp_entity_id: str, subject: Subject) -> saml.NameID:
    if request.name_id_format == NAMEID_FORMAT_TRANSIENT:
        # Transient: a new opaque value for each assertion (SAML Core §8.3.8).
        return saml.NameID(
            format=NAMEID_FORMAT_TRANSIENT,
            name_qualifier=idp_entity_id,
            sp_name_qualifier=request.sp_entity_id,
            text="_" + secrets.token_hex(20),
        )
    return saml.NameID(
        format=NAMEID_FORMAT_PERSISTENT,
        name_qualifier=idp_entity_id,
        sp_name_qualifier=request.sp_entity_id,
        text=subject.persistent_id,
    )


def success(
    server: Server,
    *,
    request: AuthnRequest,
    subject: Subject,
    class_ref: str,
    authn_instant: int,
    encrypt: bool,
) -> str:
    """The signed Response as base64, for the HTTP-POST binding."""
    response = server.create_authn_response(
        identity=subject.attributes,
        in_response_to=request.request_id,
        destination=request.acs_url,
        sp_entity_id=request.sp_entity_id,
        name_id=name_id(request, idp_entity_id=server.config.entityid, subject=subject),
        authn={"class_ref": class_ref, "authn_instant": authn_instant},
        sign_response=True,
        sign_assertion=True,
        encrypt_assertion=encrypt,
        encrypt_assertion_self_contained=True,
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    return base64.b64encode(str(response).encode("utf-8")).decode("ascii")


def failure(server: Server, *, request: AuthnRequest, error: StatusError) -> str:
    """A signed Response with an error status (Responder / the second-level code)."""
    response = server.create_error_response(
        request.request_id,
        destination=request.acs_url,
        info=(error.second_level, error.message),
        sign=True,
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    return base64.b64encode(str(response).encode("utf-8")).decode("ascii")
