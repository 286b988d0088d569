"""Drive the authorization code flow with Django's test client."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from jwcrypto import jwk, jwt

from tests.helpers import sign_in_password

from .conftest import REDIRECT

#: A PKCE pair every flow sends unless a test says otherwise (PKCE is required of every
#: client).
VERIFIER = "vahva-test-pkce-verifier-0123456789abcdefghijklmnop"
CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
)


def authorize_url(client_id: str, *, challenge: str = CHALLENGE, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid profile email",
        "state": "st4te",
        "nonce": "n0nce",
    }
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    params |= extra
    return "/o/authorize/?" + urlencode(params)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def code_from(response: Any) -> str:
    assert response.status_code == 302, response.content[:500]
    location = response["Location"]
    assert location.startswith(REDIRECT), location
    query = query_of(location)
    assert query.get("state") == "st4te"
    assert "code" in query, query
    return query["code"]


def exchange(client: Any, new: Any, code: str, verifier: str = VERIFIER, **extra: str) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    if verifier and data["grant_type"] == "authorization_code":
        data["code_verifier"] = verifier
    data |= extra
    basic = base64.b64encode(f"{new.client_id}:{new.client_secret}".encode()).decode()
    headers = {"HTTP_AUTHORIZATION": f"Basic {basic}"} if new.client_secret else {}
    if not new.client_secret:
        data["client_id"] = new.client_id
    return client.post("/o/token/", data, **headers)


def id_token_claims(client: Any, token: str) -> dict[str, Any]:
    """Verify the ID token's signature against the published JWKS; return its claims."""
    keys = jwk.JWKSet.from_json(client.get("/o/.well-known/jwks.json").content)
    return dict(json.loads(jwt.JWT(key=keys, jwt=token).claims))


__all__ = ["authorize_url", "code_from", "exchange", "id_token_claims", "sign_in_password"]
