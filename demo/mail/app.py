"""Demo Mail: a separate web app that signs people in through vahva with OpenID Connect.

This is what a service owner writes. A standard client library (Authlib) reads everything it
needs from the provider's discovery document, runs the authorization code flow with PKCE and
a nonce, checks the ID token (signature against the published keys, ``iss``, ``aud``,
``nonce``, ``exp``) and signs out with RP-initiated logout. vahva says *who* signed in
(``sub``, ``name``, ``email``) and *how* (``amr``, ``acr``, ``auth_time``); the inbox shows both.

Configuration is a JSON file (``vahva demo`` writes it): ``issuer``, ``client_id``,
``client_secret``, ``base_url`` and, optionally, ``organisation_name``. Its path is
``$MAIL_DEMO_CONFIG`` or ``var/demo-mail.json``.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import httpx
from authlib.integrations.starlette_client import OAuth, OAuthError
from joserfc.errors import JoseError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

try:
    # Authlib talks through httpx2 when it is installed (scim2-client brings it), else httpx.
    import httpx2

    HTTP_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, httpx2.HTTPError)
except ImportError:  # pragma: no cover (the demo's own dependencies have httpx only)
    HTTP_ERRORS = (httpx.HTTPError,)

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
DEFAULT_CONFIG = "var/demo-mail.json"

#: RFC 8176 authentication method references, in words.
AMR_WORDS = {
    "pwd": "password",
    "otp": "one-time code, from an authenticator app",
    "sms": "code sent by text message",
    "tel": "phone call",
    "hwk": "security key (proof of a hardware key)",
    "swk": "app on a phone (proof of a software key)",
    "pin": "PIN",
    "fpt": "fingerprint",
    "face": "face recognition",
    "user": "presence check (a tap or touch)",
    "mfa": "more than one factor (multi-factor authentication)",
}
#: The REFEDS assurance profiles vahva puts in ``acr``.
ACR_WORDS = {
    "https://refeds.org/profile/mfa": "multi-factor: two independent proofs",
    "https://refeds.org/profile/sfa": "single factor: one proof, such as a password",
}
#: The provider's error codes (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6), in words.
SIGN_IN_ERRORS = {
    "access_denied": "The sign-in was cancelled or refused, so you are not signed in to Mail.",
    "login_required": "You are not signed in at {org}. Sign in to continue.",
    "interaction_required": "{org} needs you to sign in again before you can continue.",
    "consent_required": "Mail needs your permission at {org} before you can continue.",
    "invalid_grant": "This sign-in took too long or was already used. Please start again.",
    "mismatching_state": "This sign-in was started in another tab or browser, or has expired. "
    "Please start again.",
    "temporarily_unavailable": "{org} is busy at the moment. Please try again soon.",
}


class ConfigError(Exception):
    """The configuration file is missing or incomplete."""


@dataclass(frozen=True, kw_only=True)
class Config:
    issuer: str
    client_id: str
    client_secret: str
    base_url: str
    organisation: str = "your organisation"


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    source = Path(path or os.environ.get("MAIL_DEMO_CONFIG") or DEFAULT_CONFIG)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
        return Config(
            issuer=data["issuer"].rstrip("/"),
            client_id=data["client_id"],
            client_secret=data["client_secret"],
            base_url=data["base_url"].rstrip("/"),
            organisation=data.get("organisation_name") or Config.organisation,
        )
    except FileNotFoundError:
        raise ConfigError(f"{source} not found (run `vahva demo` first)") from None
    except (ValueError, KeyError, AttributeError) as exc:
        raise ConfigError(f"{source}: not a valid configuration ({exc!r})") from None


class Markup(str):
    """HTML built here from escaped parts; everything else is escaped when rendered."""


def render(template: str, *, title: str, status: int = 200, **values: object) -> HTMLResponse:
    fill = {
        key: value if isinstance(value, Markup) else html.escape(str(value))
        for key, value in values.items()
    }
    content = Template((TEMPLATES / f"{template}.html").read_text("utf-8")).substitute(fill)
    page = Template((TEMPLATES / "base.html").read_text("utf-8")).substitute(
        title=html.escape(title), content=content
    )
    # Everything the pages use comes from this app: no scripts, no third-party hosts. No
    # form-action: Chromium applies it to redirects too, and signing out ends at the provider.
    headers = {"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'"}
    return HTMLResponse(page, status_code=status, headers=headers)


def _config(request: Request) -> Config:
    config: Config = request.app.state.config
    return config


def _vahva(request: Request) -> Any:
    return request.app.state.oauth.vahva


async def home(request: Request) -> Response:
    config = _config(request)
    claims = request.session.get("claims")
    if claims:
        return inbox(claims)
    notice = ""
    if "state" in request.query_params:
        # Back from vahva's logout endpoint: the state proves this browser asked for it.
        try:
            await _vahva(request).validate_logout_response(request)
            notice = f"You have signed out of Mail and of {config.organisation}."
        except OAuthError:
            pass
    return render(
        "signed_out",
        title="Demo Mail",
        notice=Markup(f'<p class="notice" role="status">{html.escape(notice)}</p>')
        if notice
        else Markup(""),
        organisation=config.organisation,
    )


def inbox(claims: dict[str, Any]) -> HTMLResponse:
    amr = [str(value) for value in claims.get("amr", [])]
    acr = str(claims.get("acr", ""))
    auth_time = claims.get("auth_time")
    return render(
        "inbox",
        title="Inbox · Demo Mail",
        name=claims.get("name") or claims.get("email") or "there",
        email=claims.get("email", ""),
        amr=Markup(
            "".join(
                f"<li><code>{html.escape(value)}</code> "
                f"{html.escape(AMR_WORDS.get(value, 'a method this demo has no words for'))}</li>"
                for value in amr
            )
        ),
        acr=acr or "(none)",
        acr_words=ACR_WORDS.get(acr, "a level this demo has no words for"),
        auth_time=_readable_time(auth_time) if isinstance(auth_time, int | float) else "unknown",
        claims=json.dumps(claims, indent=2, sort_keys=True),
    )


def _readable_time(epoch: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return f"{moment:%A} {moment.day} {moment:%B %Y at %H:%M:%S} UTC"


async def login(request: Request) -> Response:
    config = _config(request)
    try:
        # Authlib adds state, a nonce and the PKCE challenge, and keeps them in the session.
        return await _vahva(request).authorize_redirect(  # type: ignore[no-any-return]
            request, f"{config.base_url}/callback"
        )
    except HTTP_ERRORS:
        return _unreachable(config)


async def callback(request: Request) -> Response:
    config = _config(request)
    try:
        token = await _vahva(request).authorize_access_token(
            request,
            # Accept ID tokens only from the configured issuer, whatever a document says.
            claims_options={"iss": {"essential": True, "value": config.issuer}},
        )
    except OAuthError as exc:
        template = SIGN_IN_ERRORS.get(exc.error, "Signing in to Mail did not work.")
        return render(
            "error",
            title="Not signed in · Demo Mail",
            status=400,
            message=template.format(org=config.organisation),
            detail=f"{exc.error}: {exc.description}" if exc.description else exc.error,
        )
    except JoseError as exc:
        return render(
            "error",
            title="Not signed in · Demo Mail",
            status=502,
            message="The answer from the sign-in service did not pass Mail's checks.",
            detail=f"{exc.error}: {exc.description}",
        )
    except HTTP_ERRORS:
        return _unreachable(config)
    request.session.clear()
    request.session["id_token"] = token["id_token"]
    request.session["claims"] = dict(token["userinfo"])
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> Response:
    config = _config(request)
    id_token = request.session.get("id_token")
    request.session.clear()
    if not id_token:
        return RedirectResponse("/", status_code=303)
    try:
        # Sign out at vahva too; it sends the browser back to post_logout_redirect_uri.
        return await _vahva(request).logout_redirect(  # type: ignore[no-any-return]
            request, post_logout_redirect_uri=f"{config.base_url}/", id_token_hint=id_token
        )
    except HTTP_ERRORS:
        return _unreachable(config)


def _unreachable(config: Config) -> HTMLResponse:
    return render(
        "error",
        title="Sign-in unavailable · Demo Mail",
        status=502,
        message=f"Mail cannot reach the sign-in service of {config.organisation} right now.",
        detail=config.issuer,
    )


def create_app(config: Config) -> Starlette:
    oauth = OAuth()
    oauth.register(
        name="vahva",
        client_id=config.client_id,
        client_secret=config.client_secret,
        # Endpoints, signing keys and supported features all come from discovery.
        server_metadata_url=f"{config.issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"},
    )
    session = Middleware(
        SessionMiddleware,
        # A new key at every start signs everyone out of the demo; a real service keeps one.
        secret_key=secrets.token_urlsafe(32),
        session_cookie="demo_mail_session",
        same_site="lax",
        https_only=config.base_url.startswith("https://"),
        max_age=8 * 3600,
    )
    app = Starlette(
        routes=[
            Route("/", home),
            Route("/login", login),
            Route("/callback", callback),
            Route("/logout", logout, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC)),
        ],
        middleware=[session],
    )
    app.state.config = config
    app.state.oauth = oauth
    return app
