"""panva's openid-client (npm, run by node) signs in to a live vahva, validates and refreshes.

The node script (openid_client_flow.mjs) is the relying party; this test is the person's
browser in the middle: it takes the authorization URL the library built, signs in at vahva
with password and authenticator code, and hands the callback URL back to the library.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from vahva.clock import FakeClock
from vahva.oidc import clients
from vahva.oidc.claims import ACR_MFA

from .conftest import HERE, Person, sign_in_over_http

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = HERE / "openid_client_flow.mjs"
TIMEOUT = 30


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """One line of the script's stdout, waiting at most ``timeout`` seconds for it."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"openid-client printed nothing in {timeout} s")
    return process.stdout.readline()


@pytest.mark.parametrize("public", [False, True], ids=["confidential", "public-pkce"])
def test_openid_client_signs_in_validates_and_refreshes(
    live_server: Any, bob: Person, clock: FakeClock, node_modules: Path, public: bool
) -> None:
    redirect = "http://127.0.0.1:53124/callback" if public else "http://localhost:8001/callback"
    service = clients.add(name="Mail", redirect_uris=[redirect], public=public)
    issuer = f"{live_server.url}/o"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "ISSUER": issuer,
        "CLIENT_ID": service.client_id,
        "CLIENT_SECRET": service.client_secret,
        "REDIRECT_URI": redirect,
    }
    node = shutil.which("node")
    assert node is not None
    process = subprocess.Popen(
        [node, str(SCRIPT)],
        cwd=HERE,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = read_line(process, TIMEOUT)
        assert first, f"openid-client stopped: {process.communicate(timeout=TIMEOUT)[1]}"
        url = json.loads(first)["authorization_url"]
        assert "code_challenge_method=S256" in url
        assert "nonce=" in url

        callback = sign_in_over_http(url, redirect_uri=redirect, person=bob, clock=clock)
        signed_in_at = int(clock().timestamp())
        clock.advance(60)  # the refresh happens a minute after the sign-in
        out, err = process.communicate(callback + "\n", timeout=TIMEOUT)
        assert process.returncode == 0, err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=TIMEOUT)

    seen = json.loads(out)
    assert seen["issuer"] == issuer
    claims = seen["claims"]
    assert claims["iss"] == issuer
    assert claims["aud"] == service.client_id
    assert claims["sub"] == str(bob.user.public_id)
    assert claims["email"] == "bob@demo.example"
    assert claims["name"] == "Bob Berg"
    assert sorted(claims["amr"]) == ["mfa", "otp", "pwd"]
    assert claims["acr"] == ACR_MFA
    assert claims["auth_time"] == signed_in_at
    assert seen["userinfo"]["sub"] == claims["sub"]
    assert seen["userinfo"]["email"] == "bob@demo.example"
    assert seen["refresh_token_rotated"] is True
    refreshed = seen["refreshed_claims"]
    for name in ("iss", "sub", "aud", "auth_time", "acr"):
        assert refreshed[name] == claims[name], name
    assert sorted(refreshed["amr"]) == ["mfa", "otp", "pwd"]
