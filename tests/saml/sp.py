"""A SAML service provider for tests, on pysaml2's client: builds AuthnRequests (signed or
not, either binding) and reads vahva's responses the way a service would."""

from __future__ import annotations

import base64
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_PERSISTENT
from saml2.xmldsig import SIG_RSA_SHA256

from vahva.saml import keys

ENTITY = "https://sp.example/metadata"
ACS = "https://sp.example/acs"
SLO = "https://sp.example/slo"


def key_pair(name: str) -> keys.KeyPair:
    directory = Path(tempfile.mkdtemp(prefix=f"saml-{name}-"))
    return keys.ensure(directory, common_name=name)


_PAIRS: dict[str, keys.KeyPair] = {}


def cached_pair(name: str) -> keys.KeyPair:
    if name not in _PAIRS:
        _PAIRS[name] = key_pair(name)
    return _PAIRS[name]


@dataclass
class TestSP:
    __test__ = False  # a helper, not a test class
    idp_metadata: str
    entity_id: str = ENTITY
    acs: str = ACS
    sign_requests: bool = False
    encryption: bool = False
    requested: list[dict[str, Any]] = field(default_factory=list)
    pair: keys.KeyPair = field(default_factory=lambda: cached_pair("sp"))

    def config(self) -> SPConfig:
        config = SPConfig()
        values: dict[str, Any] = {
            "entityid": self.entity_id,
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "key_file": str(self.pair.key_file),
            "cert_file": str(self.pair.cert_file),
            "metadata": {"inline": [self.idp_metadata]},
            "allow_unknown_attributes": True,
            "service": {
                "sp": {
                    "endpoints": {
                        "assertion_consumer_service": [(self.acs, BINDING_HTTP_POST)],
                        "single_logout_service": [(SLO, BINDING_HTTP_REDIRECT)],
                    },
                    "authn_requests_signed": self.sign_requests,
                    "want_response_signed": True,
                    "want_assertions_signed": True,
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    "allow_unsolicited": False,
                    "required_attributes": [a["friendly_name"] for a in self.requested],
                }
            },
        }
        if self.encryption:
            values["encryption_keypairs"] = [
                {"key_file": str(self.pair.key_file), "cert_file": str(self.pair.cert_file)}
            ]
        config.load(values)
        return config

    def metadata(self) -> str:
        text = str(entity_descriptor(self.config()))
        if not self.encryption:
            # pysaml2 publishes its one key for both uses; a plain SP only signs.
            text = text.replace("<md:KeyDescriptor>", '<md:KeyDescriptor use="signing">')
        return text

    def client(self) -> Saml2Client:
        return Saml2Client(config=self.config())

    def redirect_url(
        self, idp_sso: str, *, relay_state: str = "rs-1", sign: bool | None = None, **kwargs: Any
    ) -> tuple[str, str]:
        """(request id, the SSO URL with SAMLRequest) for the HTTP-Redirect binding."""
        client = self.client()
        request_id, request = client.create_authn_request(
            idp_sso, binding=BINDING_HTTP_POST, sign=False, **kwargs
        )
        signed = self.sign_requests if sign is None else sign
        info = client.apply_binding(
            BINDING_HTTP_REDIRECT,
            str(request),
            destination=idp_sso,
            relay_state=relay_state,
            sign=signed,
            sigalg=SIG_RSA_SHA256 if signed else None,
        )
        location = dict(info["headers"])["Location"]
        return request_id, location

    def post_form(
        self, idp_sso: str, *, relay_state: str = "rs-1", sign: bool | None = None, **kwargs: Any
    ) -> tuple[str, dict[str, str]]:
        """(request id, form fields) for the HTTP-POST binding (enveloped signature)."""
        client = self.client()
        signed = self.sign_requests if sign is None else sign
        request_id, request = client.create_authn_request(
            idp_sso,
            binding=BINDING_HTTP_POST,
            sign=signed,
            sign_alg=SIG_RSA_SHA256 if signed else None,
            **kwargs,
        )
        encoded = base64.b64encode(str(request).encode()).decode()
        return request_id, {"SAMLRequest": encoded, "RelayState": relay_state}

    def logout_url(self, idp_slo: str, name_id: Any, *, sign: bool = False) -> str:
        """The IdP's SLO URL with a LogoutRequest for ``name_id`` (HTTP-Redirect)."""
        client = self.client()
        _request_id, request = client.create_logout_request(
            idp_slo, issuer_entity_id=None, name_id=name_id, sign=False
        )
        info = client.apply_binding(
            BINDING_HTTP_REDIRECT,
            str(request),
            destination=idp_slo,
            relay_state="bye",
            sign=sign,
            sigalg=SIG_RSA_SHA256 if sign else None,
        )
        return str(dict(info["headers"])["Location"])

    def read(self, saml_response: str, request_id: str) -> Any:
        """Parse and verify a response as the service would (raises when it is not valid)."""
        return self.client().parse_authn_request_response(
            saml_response, BINDING_HTTP_POST, outstanding={request_id: "/"}
        )


def redirect_query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def deflate(xml: bytes) -> str:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return base64.b64encode(compressor.compress(xml) + compressor.flush()).decode()


def redirect_with(path: str, **params: str) -> str:
    return f"{path}?{urlencode(params)}"
