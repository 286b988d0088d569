"""The HTTP-Redirect binding's signature, checked over the query string as it arrived.

SAML Bindings §3.4.4.1: the signature covers the octets ``SAMLRequest=…&RelayState=…&SigAlg=…``
exactly as the service URL-encoded them. pysaml2 re-encodes the decoded values before it
checks, which fails for services that encode differently (lower-case ``%2f``, ``%20``);
here the raw parameters are used instead. A parameter given twice is refused (parameter
pollution: the signed copy and the used copy could differ), and so is SHA-1.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from urllib.parse import unquote_plus

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from . import errors

#: Signature algorithms accepted on requests; SHA-1 is not (collisions are practical).
ALGORITHMS: dict[str, hashes.HashAlgorithm] = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": hashes.SHA256(),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": hashes.SHA384(),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": hashes.SHA512(),
}
_SIGNED = ("SAMLRequest", "RelayState", "SigAlg")


def raw_parameters(query_string: str) -> dict[str, str]:
    """The query's parameters, still URL-encoded; a signed parameter twice is an error."""
    found: dict[str, str] = {}
    for part in query_string.split("&"):
        name, _equals, value = part.partition("=")
        if name in (*_SIGNED, "Signature"):
            if name in found:
                raise errors.BadSignature(f"{name} appears twice in the query")
            found[name] = value
    return found


def verify(*, query_string: str, certificates: Sequence[str]) -> None:
    """Raise BadSignature unless one of ``certificates`` (PEM) signed this query."""
    raw = raw_parameters(query_string)
    if "Signature" not in raw or "SigAlg" not in raw:
        raise errors.BadSignature("the request is not signed")
    algorithm = ALGORITHMS.get(unquote_plus(raw["SigAlg"]))
    if algorithm is None:
        raise errors.BadSignature(
            f"signature algorithm not accepted: {unquote_plus(raw['SigAlg'])}"
        )
    try:
        signature = base64.b64decode(unquote_plus(raw["Signature"]), validate=True)
    except (binascii.Error, ValueError):
        raise errors.BadSignature("the signature is not base64") from None
    signed = "&".join(f"{name}={raw[name]}" for name in _SIGNED if name in raw).encode("ascii")
    for pem in certificates:
        try:
            key = x509.load_pem_x509_certificate(pem.encode("ascii")).public_key()
        except ValueError:
            continue  # a broken certificate in the metadata verifies nothing
        if not isinstance(key, rsa.RSAPublicKey):
            continue
        try:
            key.verify(signature, signed, padding.PKCS1v15(), algorithm)
            return
        except InvalidSignature:
            continue
    raise errors.BadSignature("no key in the service's metadata made this signature")
