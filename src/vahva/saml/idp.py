"""pysaml2's IdP, configured from vahva's settings, keys and one service's metadata.

Each service gets a :class:`saml2.server.Server` that knows only its own metadata, so that
whether its AuthnRequests must be signed is its own setting, and a certificate in one
service's metadata can never verify another's messages. Servers are cached per service
version and key; building one parses metadata and takes a few milliseconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import threading
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT
from saml2.server import Server

from vahva import clock
from vahva.conf import settings

from . import keys, metadata

XMLSEC = "/usr/bin/xmlsec1"


class NotConfigured(RuntimeError):
    """The xmlsec1 binary is missing (Debian: apt-get install xmlsec1)."""


def key_dir() -> Path:
    return Path(django_settings.DATA_DIR) / "saml"


def public_url() -> str:
    return str(settings.PUBLIC_URL).rstrip("/")


def entity_id() -> str:
    return str(settings.SAML_ENTITY_ID) or f"{public_url()}/saml/metadata"


def sso_url() -> str:
    return f"{public_url()}/saml/sso"


def slo_url() -> str:
    return f"{public_url()}/saml/slo"


def xmlsec_binary() -> str:
    found = shutil.which("xmlsec1") or (XMLSEC if Path(XMLSEC).exists() else None)
    if found is None:
        raise NotConfigured("the SAML IdP needs the xmlsec1 program (apt-get install xmlsec1)")
    return found


def config_dict(*, sp_metadata: str | None = None, must_sign: bool = False) -> dict[str, Any]:
    pair = keys.ensure(key_dir(), common_name=entity_id())
    retired = [str(old.cert_file) for _at, old in keys.retired(key_dir())]
    sso = sso_url()
    return {
        "entityid": entity_id(),
        "xmlsec_binary": xmlsec_binary(),
        "key_file": str(pair.key_file),
        "cert_file": str(pair.cert_file),
        # Retired certificates stay in the metadata while services refresh their copies.
        "additional_cert_files": retired or None,
        "metadata": {"inline": [sp_metadata]} if sp_metadata else {},
        # Signature wrapping: only keys from the service's metadata verify its messages,
        # never a certificate the message brings along.
        "only_use_keys_in_metadata": True,
        "delete_tmpfiles": True,
        "accepted_time_diff": 60,
        "service": {
            "idp": {
                "name": str(settings.ORGANISATION_NAME),
                "endpoints": {
                    "single_sign_on_service": [
                        (sso, BINDING_HTTP_REDIRECT),
                        (sso, BINDING_HTTP_POST),
                    ],
                    "single_logout_service": [
                        (slo_url(), BINDING_HTTP_REDIRECT),
                        (slo_url(), BINDING_HTTP_POST),
                    ],
                },
                "name_id_format": [NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT],
                "want_authn_requests_signed": must_sign,
                "sign_response": True,
                "sign_assertion": True,
                "scope": [str(settings.SAML_SCOPE)] if settings.SAML_SCOPE else [],
                "policy": {
                    "default": {
                        "lifetime": {"seconds": int(settings.SAML_RESPONSE_LIFETIME)},
                        "name_form": NAME_FORMAT_URI,
                        # vahva filters attributes itself (vahva.saml.attributes); a missing
                        # value is left out, not an error.
                        "fail_on_missing_requested": False,
                    }
                },
            }
        },
    }


_cache: dict[tuple[Any, ...], Server] = {}
_lock = threading.Lock()


def _cache_key(*parts: Any) -> tuple[Any, ...]:
    active = keys.ensure(key_dir(), common_name=entity_id()).cert_file
    return (*parts, entity_id(), sso_url(), active.stat().st_mtime_ns, len(keys.retired(key_dir())))


def server_for(*, sp_id: int, version: str, metadata_xml: str, must_sign: bool) -> Server:
    """The pysaml2 Server for one service's metadata (cached per service version and key)."""
    cache_key = _cache_key(sp_id, version, must_sign)
    with _lock:
        found = _cache.get(cache_key)
    if found is not None:
        return found
    config_values = config_dict(sp_metadata=metadata_xml, must_sign=must_sign)
    config = IdPConfig()
    config.load(config_values)
    server = Server(config=config)
    with _lock:
        if len(_cache) > 256:
            _cache.clear()
        _cache[cache_key] = server
    return server


def _metadata_values() -> dict[str, Any]:
    return {
        "entity_id": entity_id(),
        "sso_url": sso_url(),
        "slo_url": slo_url(),
        "certs": keys.published_certs(key_dir()),
        "scope": str(settings.SAML_SCOPE),
        "name": str(settings.ORGANISATION_NAME),
    }


_signed: dict[tuple[str, int], str] = {}
#: The signed metadata is made again each hour (xmlsec1 is a process start per signature).
RESIGN_SECONDS = 3600


def signed_metadata_xml() -> str:
    """The metadata, signed with the active key, valid for SAML_METADATA_VALID_DAYS from the
    hour it was signed (NotConfigured without xmlsec1)."""
    xmlsec = xmlsec_binary()
    values = _metadata_values()
    hour = int(clock.now().timestamp()) // RESIGN_SECONDS
    cache_key = (repr(sorted(values.items())), hour)
    with _lock:
        found = _signed.get(cache_key)
    if found is not None:
        return found
    signed_at = dt.datetime.fromtimestamp(hour * RESIGN_SECONDS, dt.UTC)
    document_id = "_" + hashlib.sha256(repr(cache_key).encode()).hexdigest()[:40]
    template = metadata.render(
        **values,
        document_id=document_id,
        valid_until=signed_at + dt.timedelta(days=int(settings.SAML_METADATA_VALID_DAYS)),
    )
    pair = keys.ensure(key_dir(), common_name=entity_id())
    signed = metadata.sign(
        template, document_id=document_id, key_file=str(pair.key_file), xmlsec=xmlsec
    )
    with _lock:
        _signed.clear()  # one signed copy at a time: older hours and keys are never served
        _signed[cache_key] = signed
    return signed


def metadata_xml() -> str:
    """The IdP's own metadata, with every published certificate (unsigned)."""
    return metadata.render(**_metadata_values())
