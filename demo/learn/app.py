"""Demo Learn: a separate web app that signs people in through vahva with SAML 2.0.

This is what a service owner writes: OneLogin's python3-saml toolkit reads vahva's IdP
metadata, sends an AuthnRequest (HTTP-Redirect), and validates the signed Response posted
back (signature against the metadata's certificate, Destination, Audience, InResponseTo,
time). The course page shows *who* signed in (the released attributes) and *how* (the
AuthnContextClassRef: REFEDS MFA or SFA).

Configuration is a JSON file (``vahva demo`` writes it): ``idp_metadata_url``, ``base_url``
and, optionally, ``organisation_name``. Its path is ``$LEARN_DEMO_CONFIG`` or
``var/demo-learn.json``.
"""

from __future__ import annotations

import html
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

DEFAULT_CONFIG = "var/demo-learn.json"
CONTEXT_WORDS = {
    "https://refeds.org/profile/mfa": "multi-factor: two independent proofs",
    "https://refeds.org/profile/sfa": "single factor: one proof, such as a password",
}
#: The attributes shown, by their URI names (eduPerson, SCHAC, OASIS subject ids).
SHOWN = {
    "urn:oid:2.16.840.1.113730.3.1.241": "Name",
    "urn:oid:0.9.2342.19200300.100.1.3": "E-mail",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.6": "Principal name (eppn)",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.9": "Affiliation",
    "urn:oid:1.3.6.1.4.1.25178.1.2.9": "Home organisation",
    "urn:oasis:names:tc:SAML:attribute:pairwise-id": "Pairwise id",
}
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo Learn</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Demo Learn</h1>{body}</main></body></html>
"""


class ConfigError(RuntimeError):
    """The configuration file is missing or incomplete."""


@dataclass(frozen=True)
class Config:
    idp_metadata_url: str
    base_url: str
    organisation_name: str = "vahva"


def load_config(path: str | None = None) -> Config:
    where = Path(path or os.environ.get("LEARN_DEMO_CONFIG", DEFAULT_CONFIG))
    try:
        raw = json.loads(where.read_text(encoding="utf-8"))
        return Config(
            idp_metadata_url=str(raw["idp_metadata_url"]),
            base_url=str(raw["base_url"]).rstrip("/"),
            organisation_name=str(raw.get("organisation_name") or "vahva"),
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{where}: {exc}; run `vahva demo` first") from exc


def sp_settings(base_url: str) -> dict[str, Any]:
    """The service's own half of the toolkit's settings (no keys: it signs nothing)."""
    return {
        "strict": True,
        "sp": {
            "entityId": f"{base_url}/saml/metadata",
            "assertionConsumerService": {
                "url": f"{base_url}/saml/acs",
                "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
            },
            "NameIDFormat": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        },
        "security": {
            "wantAssertionsSigned": True,
            "wantMessagesSigned": True,
            # Ask for no particular context (the toolkit's default is PasswordProtectedTransport,
            # exactly): vahva then says what was done, REFEDS MFA or SFA.
            "requestedAuthnContext": False,
        },
    }


def sp_metadata(base_url: str) -> str:
    settings = OneLogin_Saml2_Settings(sp_settings(base_url), sp_validation_only=True)
    metadata = settings.get_sp_metadata()
    # python3-saml returns str in its current releases, bytes in older ones.
    return metadata.decode() if isinstance(metadata, bytes) else str(metadata)


def _request_data(request: Request, post: dict[str, Any] | None = None) -> dict[str, Any]:
    url = request.url
    return {
        "https": "on" if url.scheme == "https" else "off",
        "http_host": url.netloc,  # with the port: the toolkit rebuilds the ACS address from it
        "script_name": url.path,
        "get_data": dict(request.query_params),
        "post_data": post or {},
    }


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(body=body), status_code=status)


def create_app(config: Config) -> Starlette:
    cache: dict[str, Any] = {}

    def settings() -> dict[str, Any]:
        if "idp" not in cache:
            # The IdP's entity id, SSO address and signing certificate, from its metadata.
            cache["idp"] = OneLogin_Saml2_IdPMetadataParser.parse_remote(
                config.idp_metadata_url, timeout=5
            )
        return OneLogin_Saml2_IdPMetadataParser.merge_settings(
            sp_settings(config.base_url), cache["idp"]
        )

    async def home(request: Request) -> Response:
        person = request.session.get("person")
        if not person:
            org = html.escape(config.organisation_name)
            return _page(
                f'<p>Your courses are waiting.</p><p><a href="/login">Sign in with {org}</a></p>'
            )
        values = person["attributes"]
        rows = "".join(
            f"<tr><th>{html.escape(label)}</th><td>{html.escape(', '.join(values[name]))}</td></tr>"
            for name, label in SHOWN.items()
            if values.get(name)
        )
        context = person["context"]
        how = html.escape(CONTEXT_WORDS.get(context, context))
        return _page(
            f"<p>Signed in. Welcome to your courses.</p><table>{rows}</table>"
            f"<p>How you signed in: <strong>{how}</strong> "
            f"(<code>{html.escape(context)}</code>)</p>"
            '<p><a href="/logout">Sign out of Demo Learn</a></p>'
        )

    async def login(request: Request) -> Response:
        auth = OneLogin_Saml2_Auth(_request_data(request), settings())
        url = auth.login(return_to=f"{config.base_url}/")
        request.session["request_id"] = auth.get_last_request_id()
        return RedirectResponse(url, status_code=302)

    async def acs(request: Request) -> Response:
        # A plain urlencoded form (no python-multipart needed for two fields).
        body = (await request.body()).decode("ascii", "replace")
        form = {key: values[0] for key, values in parse_qs(body).items()}
        request_id = request.session.pop("request_id", None)
        if request_id is None:
            # Replayed or unsolicited: the toolkit checks InResponseTo only against an id.
            return _page("<p>No sign-in was started here. Sign in again.</p>", 403)
        auth = OneLogin_Saml2_Auth(_request_data(request, form), settings())
        auth.process_response(request_id=request_id)
        if auth.get_errors() or not auth.is_authenticated():
            reason = auth.get_last_error_reason() or ", ".join(auth.get_errors())
            return _page(f"<p>Signing in did not succeed: {html.escape(str(reason))}</p>", 403)
        request.session["person"] = {
            "attributes": auth.get_attributes(),
            "context": (auth.get_last_authn_contexts() or [""])[0],
            "name_id": auth.get_nameid(),
        }
        # Only back to our own pages (an open redirect otherwise).
        back = str(form.get("RelayState", ""))
        same = urlsplit(back).netloc == urlsplit(config.base_url).netloc
        return RedirectResponse(back if same else "/", status_code=303)

    async def metadata(request: Request) -> Response:
        return Response(sp_metadata(config.base_url), media_type="application/samlmetadata+xml")

    async def logout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/", status_code=303)

    return Starlette(
        routes=[
            Route("/", home),
            Route("/login", login),
            Route("/saml/acs", acs, methods=["POST"]),
            Route("/saml/metadata", metadata),
            Route("/logout", logout),
        ],
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=secrets.token_urlsafe(32),
                session_cookie="learn_session",
                same_site="lax",
            )
        ],
    )
