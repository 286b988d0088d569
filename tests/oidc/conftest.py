"""Fixtures for the OpenID Provider: a connected service and a PKCE pair."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import pytest

REDIRECT = "http://localhost:8001/callback"


@dataclass
class Pkce:
    verifier: str
    challenge: str


@pytest.fixture
def pkce() -> Pkce:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return Pkce(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


@pytest.fixture
def mail(db: Any) -> Any:
    """The "Mail" service: confidential, first-party, default MFA rule."""
    from vahva.oidc import clients

    return clients.add(
        name="Mail",
        redirect_uris=[REDIRECT],
        post_logout_redirect_uris=["http://localhost:8001/"],
    )


@pytest.fixture
def mobile(db: Any) -> Any:
    """A public client (a phone app) with a loopback and a private-use redirect."""
    from vahva.oidc import clients

    return clients.add(
        name="Mail app",
        redirect_uris=["http://127.0.0.1/callback", "org.example.mail:/callback"],
        public=True,
    )
