"""Authlib's OAuth 2.0 client runs the whole OpenID Connect flow against a live vahva.

Authlib does the protocol (discovery values, PKCE, state, client authentication, the code
and refresh grants); the ID token is checked the way Authlib's own OIDC clients check it
(joserfc against the published JWKS, then ``authlib.oidc.core.CodeIDToken``), and checks that
must fail are shown to fail.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import KeySet

from vahva.clock import FakeClock
from vahva.oidc import clients
from vahva.oidc.claims import ACR_MFA

from .conftest import Person, sign_in_over_http

pytestmark = pytest.mark.django_db(transaction=True)

CONFIDENTIAL_REDIRECT = "http://localhost:8001/callback"
# RFC 8252 §7.3: a native app listens on a loopback port it picks at run time.
LOOPBACK_REDIRECT = "http://127.0.0.1:53124/callback"


def verified_id_token(
    id_token: str,
    *,
    metadata: dict[str, Any],
    client_id: str,
    nonce: str | None,
    access_token: str,
) -> CodeIDToken:
    """The ID token's claims once its signature, iss, aud, azp, nonce, exp and at_hash pass."""
    keys = KeySet.import_key_set(httpx.get(metadata["jwks_uri"]).json())
    token = jwt.decode(id_token, keys, algorithms=metadata["id_token_signing_alg_values_supported"])
    claims = CodeIDToken(
        token.claims,
        token.header,
        {
            "iss": {"essential": True, "value": metadata["issuer"]},
            "aud": {"essential": True, "value": client_id},
        },
        {"client_id": client_id, "nonce": nonce, "access_token": access_token},
    )
    claims.validate(leeway=60)
    return claims


@pytest.mark.parametrize("public", [False, True], ids=["confidential", "public-pkce"])
def test_authlib_signs_in_validates_reads_userinfo_and_refreshes(
    live_server: Any, bob: Person, clock: FakeClock, public: bool
) -> None:
    redirect = LOOPBACK_REDIRECT if public else CONFIDENTIAL_REDIRECT
    service = clients.add(name="Mail", redirect_uris=[redirect], public=public)
    issuer = f"{live_server.url}/o"
    metadata = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
    assert metadata["issuer"] == issuer
    assert "S256" in metadata["code_challenge_methods_supported"]

    client = OAuth2Client(
        client_id=service.client_id,
        client_secret=service.client_secret or None,
        token_endpoint_auth_method="none" if public else "client_secret_basic",
        scope="openid profile email",
        redirect_uri=redirect,
        code_challenge_method="S256",
        timeout=10,
    )
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    callback = sign_in_over_http(url, redirect_uri=redirect, person=bob, clock=clock)

    token = client.fetch_token(
        metadata["token_endpoint"],
        authorization_response=callback,
        state=state,
        code_verifier=verifier,
    )
    claims = verified_id_token(
        token["id_token"],
        metadata=metadata,
        client_id=service.client_id,
        nonce=nonce,
        access_token=token["access_token"],
    )
    assert claims["sub"] == str(bob.user.public_id)
    assert claims["aud"] == service.client_id
    assert (claims["email"], claims["name"]) == ("bob@demo.example", "Bob Berg")
    assert sorted(claims["amr"]) == ["mfa", "otp", "pwd"]
    assert claims["acr"] == ACR_MFA
    assert claims["auth_time"] == int(clock().timestamp())

    # The checks bite: another nonce, audience or issuer, or a forged signature, fail.
    check = {"metadata": metadata, "access_token": token["access_token"]}
    with pytest.raises(JoseError):
        verified_id_token(token["id_token"], client_id=service.client_id, nonce="other", **check)
    with pytest.raises(JoseError):
        verified_id_token(token["id_token"], client_id="another-service", nonce=nonce, **check)
    with pytest.raises(JoseError):
        verified_id_token(
            token["id_token"],
            client_id=service.client_id,
            nonce=nonce,
            metadata={**metadata, "issuer": "http://localhost:1/o"},
            access_token=token["access_token"],
        )
    header, payload, signature = token["id_token"].split(".")
    forged = f"{header}.{payload}.{signature[:-8]}{'A' * 8}"
    with pytest.raises(BadSignatureError):
        verified_id_token(forged, client_id=service.client_id, nonce=nonce, **check)

    userinfo = client.get(metadata["userinfo_endpoint"]).json()
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["email"] == "bob@demo.example"

    # Half an hour later the service refreshes: a new refresh token (rotation), a new ID
    # token that still tells of the original sign-in (OIDC Core §12.2).
    clock.advance(30 * 60)
    refreshed = client.refresh_token(
        metadata["token_endpoint"], refresh_token=token["refresh_token"]
    )
    assert refreshed["refresh_token"] != token["refresh_token"]
    again = verified_id_token(
        refreshed["id_token"],
        metadata=metadata,
        client_id=service.client_id,
        nonce=None,
        access_token=refreshed["access_token"],
    )
    for name in ("iss", "sub", "aud", "auth_time", "acr"):
        assert again[name] == claims[name], name
    assert sorted(again["amr"]) == ["mfa", "otp", "pwd"]
    assert again["iat"] >= claims["iat"]
    assert again.get("nonce") in (None, nonce)

    # The rotated-away refresh token is refused.
    with pytest.raises(OAuthError) as refused:
        client.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"
