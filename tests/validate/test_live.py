"""The validation API over real HTTP (Django's live server), as a gateway calls it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import totp_code
from tests.validate.conftest import CHECK

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_gateway_checks_codes_over_http(
    live_server: Any, api_key: str, alice_totp: Any, clock: Any
) -> None:
    _method, secret = alice_totp
    code = totp_code(secret, clock())
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        auth = {"Authorization": f"Bearer {api_key}"}
        accepted = http.post(CHECK, json={"user": "alice@example.org", "code": code}, headers=auth)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json() == {"accepted": True, "user": "alice@example.org", "method": "totp"}
        # No session or CSRF cookie for a program's call.
        assert "set-cookie" not in accepted.headers

        again = http.post(CHECK, json={"user": "alice@example.org", "code": code}, headers=auth)
        assert again.status_code == 400
        assert again.json()["error"] == "replayed"

        garbled = http.post(
            CHECK, content=b"user=alice&code=1", headers={**auth, "Content-Type": "text/plain"}
        )
        assert garbled.status_code == 400
        assert garbled.json()["error"] == "malformed"

        anonymous = http.post(CHECK, json={"user": "alice@example.org", "code": code})
        assert anonymous.status_code == 401
        assert anonymous.json()["error"] == "unauthorized"
