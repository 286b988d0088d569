"""Signing-key rotation: new tokens use the new key, tokens signed before still verify."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from jwcrypto import jwk, jws

from vahva.oidc import keys

from .helpers import authorize_url, code_from, exchange, id_token_claims
from .test_flow import sign_in_with_code

pytestmark = pytest.mark.django_db


def test_key_files_are_private_and_rotation_keeps_the_old_key(tmp_path: Path) -> None:
    directory = tmp_path / "oidc"
    first = keys.load(directory)
    active = directory / keys.ACTIVE
    assert stat.S_IMODE(os.stat(active).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    rotation = keys.rotate(directory, keep_seconds=100, now=1_000)
    second = keys.load(directory)
    assert second.active != first.active
    assert second.retired == [first.active]
    assert rotation.retired.name == "retired-1000.pem"
    # Rotating again later drops keys retired longer ago than keep_seconds.
    rotation = keys.rotate(directory, keep_seconds=100, now=1_200)
    assert [path.name for path in rotation.dropped] == ["retired-1000.pem"]
    assert keys.load(directory).retired == [second.active]


def _kid(token: str) -> str:
    signed = jws.JWS()
    signed.deserialize(token)
    return str(json.loads(signed.objects["protected"])["kid"])


def test_tokens_signed_before_a_rotation_still_verify(
    alice_totp: tuple[Any, str],
    mail: Any,
    client: Client,
    clock: Any,
    settings: Any,
    tmp_path: Path,
) -> None:
    _method, secret = alice_totp
    directory = tmp_path / "oidc"
    old = keys.load(directory)
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_RSA_PRIVATE_KEY": old.active,
        "OIDC_RSA_PRIVATE_KEYS_INACTIVE": [],
    }
    code = code_from(sign_in_with_code(client, secret, clock, authorize_url(mail.client_id)))
    old_token = exchange(client, mail, code).json()["id_token"]

    keys.rotate(directory, keep_seconds=7200)
    new = keys.load(directory)
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_RSA_PRIVATE_KEY": new.active,
        "OIDC_RSA_PRIVATE_KEYS_INACTIVE": new.retired,
    }
    published = jwk.JWKSet.from_json(client.get("/o/.well-known/jwks.json").content)
    assert len(published["keys"]) == 2
    # The token signed with the retired key verifies against the published set.
    assert id_token_claims(client, old_token)["sub"]
    code = code_from(client.get(authorize_url(mail.client_id)))
    new_token = exchange(client, mail, code).json()["id_token"]
    assert _kid(new_token) != _kid(old_token)
    assert _kid(new_token) == jwk.JWK.from_pem(new.active.encode()).thumbprint()


def test_rotate_command_says_what_it_did(settings: Any, tmp_path: Path, capsys: Any) -> None:
    settings.DATA_DIR = tmp_path
    keys.load(tmp_path / "oidc")
    call_command("rotate_signing_key")
    out = capsys.readouterr().out
    assert "New signing key" in out
    assert "Restart vahva" in out
    assert len(keys.load(tmp_path / "oidc").retired) == 1


def test_discovery_document(client: Client) -> None:
    data = client.get("/o/.well-known/openid-configuration").json()
    assert data["issuer"] == "http://testserver/o"
    assert data["authorization_endpoint"] == "http://testserver/o/authorize/"
    assert data["end_session_endpoint"] == "http://testserver/o/logout/"
    assert data["code_challenge_methods_supported"] == ["S256"]
    assert data["response_types_supported"] == ["code"]
    assert "https://refeds.org/profile/mfa" in data["acr_values_supported"]
    assert {"amr", "acr", "auth_time", "email", "name"} <= set(data["claims_supported"])
    # Only what vahva signs with: no HS256 (a client secret is not a signing key of ours).
    assert data["id_token_signing_alg_values_supported"] == ["RS256"]
