"""Connecting services: create, list and change OAuth clients with vahva's rules."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import transaction
from oauth2_provider.generators import generate_client_id
from oauth2_provider.models import get_application_model

from vahva.audit.log import record

from .models import Service
from .schemes import RedirectSchemes

Application = get_application_model()


class InvalidClient(ValueError):
    """A client's settings are not acceptable; the message says why."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_redirect_uri(uri: str) -> str:
    """``uri`` if a service may register it; InvalidClient otherwise."""
    parts = urlsplit(uri)
    if not parts.scheme or parts.scheme not in RedirectSchemes():
        raise InvalidClient(f"{uri!r}: use https, http on localhost, or an app's own scheme")
    if parts.fragment:
        raise InvalidClient(f"{uri!r}: a redirect URI must not have a #fragment (RFC 6749 §3.1.2)")
    if parts.scheme in ("http", "https") and not parts.hostname:
        raise InvalidClient(f"{uri!r}: the address has no host")
    # Codes sent over plain http to another machine can be read on the way.
    if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
        raise InvalidClient(f"{uri!r}: plain http is only allowed for localhost")
    return uri


@dataclass(frozen=True)
class NewClient:
    application: object
    client_id: str
    client_secret: str  # "" for public clients; shown once, stored hashed


def add(
    *,
    name: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str] | None = None,
    public: bool = False,
    mfa_rule: str = "outside_trusted",
    third_party: bool = False,
    client_id: str | None = None,
) -> NewClient:
    if not name.strip():
        raise InvalidClient("a service needs a name")
    if not redirect_uris:
        raise InvalidClient("a service needs at least one redirect URI")
    uris = [check_redirect_uri(uri) for uri in redirect_uris]
    logout_uris = [check_redirect_uri(uri) for uri in post_logout_redirect_uris or []]
    if client_id and Application.objects.filter(client_id=client_id).exists():
        raise InvalidClient(f"a service with client id {client_id!r} exists already")
    secret = "" if public else secrets.token_urlsafe(32)
    with transaction.atomic():
        application = Application.objects.create(
            name=name.strip(),
            client_id=client_id or generate_client_id(),
            client_secret=secret,  # the toolkit stores a hash of it
            client_type=Application.CLIENT_PUBLIC if public else Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=" ".join(uris),
            post_logout_redirect_uris=" ".join(logout_uris),
            algorithm=Application.RS256_ALGORITHM,
            # Consent is asked only of services outside the organisation.
            skip_authorization=not third_party,
        )
        Service.objects.create(application=application, mfa_rule=mfa_rule)
        record(
            "oidc.client_added",
            reason=f"service {application.name}",
            client_id=application.client_id,
        )
    return NewClient(application, application.client_id, secret)


def new_secret(client_id: str) -> str:
    """Replace a confidential client's secret; the new one is returned once."""
    application = Application.objects.get(client_id=client_id)
    if application.client_type != Application.CLIENT_CONFIDENTIAL:
        raise InvalidClient(f"{client_id!r} is a public client: it has no secret")
    secret = secrets.token_urlsafe(32)
    application.client_secret = secret
    application.save()
    record("oidc.client_secret", reason=f"service {application.name}", client_id=client_id)
    return secret
