"""`vahva serve` answers the validation API and the token endpoint through a lean middleware
chain (settings.LEAN_MIDDLEWARE, vahva.web.handler): they still send the security headers and
refuse what they refused, and the ordinary pages still get the full chain."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from django.test import Client

from tests.helpers import code_for
from tests.oidc.conftest import mail  # noqa: F401  (the fixture: a confidential service)
from tests.oidc.helpers import authorize_url, code_from, exchange
from tests.test_request_threads import Served
from vahva.web.handler import LeanASGIHandler, ReusingASGIHandler

CHECK = "/api/validate/v1/check"


@pytest.fixture
def base(transactional_db: Any, settings: Any) -> Iterator[str]:
    settings.ALLOWED_HOSTS = ["127.0.0.1", "testserver", "localhost"]
    handler = ReusingASGIHandler(keep=2)
    config = uvicorn.Config(handler, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = Served(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert server.up.wait(timeout=30), "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    handler.threads.close()


def assert_security_headers(answer: httpx.Response) -> None:
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Permissions-Policy"].startswith("camera=()")
    assert answer.headers["Referrer-Policy"]
    assert answer.headers["X-Request-Id"]


def test_the_lean_paths_take_the_lean_chain_and_the_pages_the_full_one() -> None:
    handler = ReusingASGIHandler(keep=1)
    try:
        lean = handler.handler_for("/api/validate/v1/check")
        assert isinstance(lean, LeanASGIHandler)
        assert handler.handler_for("/o/token/") is lean
        # Without its slash, or another OAuth endpoint, or a page: the full chain.
        for page in ("/signin/", "/o/authorize/", "/o/token", "/o/revoke_token/", "/admin/"):
            assert handler.handler_for(page) is handler
    finally:
        handler.threads.close()


def test_validation_api_refuses_a_bad_key_with_the_security_headers(base: str) -> None:
    with httpx.Client(base_url=base, timeout=10) as http:
        answer = http.post(
            CHECK,
            json={"user": "alice@example.org", "code": "123456"},
            headers={"Authorization": "Bearer " + "0" * 16 + "." + "A" * 43},
        )
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"
    assert_security_headers(answer)
    # No browser session made or written for a machine's call, and no locale middleware
    # (the pages' chain says which language a page is in).
    assert "set-cookie" not in answer.headers
    assert "content-language" not in answer.headers


def test_validation_api_accepts_a_code_once_over_the_lean_chain(
    base: str, alice: Any, alice_totp: Any, clock: Any
) -> None:
    from vahva.validate import clients

    _method, secret = alice_totp
    key = clients.add("VPN gateway").key
    code = code_for(secret, clock)
    with httpx.Client(base_url=base, timeout=10) as http:

        def check() -> httpx.Response:
            return http.post(
                CHECK,
                json={"user": alice.email, "code": code},
                headers={"Authorization": f"Bearer {key}", "X-Forwarded-Proto": "https"},
            )

        first = check()
        assert first.status_code == 200, first.text
        assert first.json()["accepted"] is True
        assert_security_headers(first)
        # The same code again (a replay): refused.
        again = check()
        assert again.status_code == 400
        assert again.json()["error"] == "replayed"
        # A NUL byte is refused by the hygiene middleware, which the lean chain keeps.
        nul = http.post(
            CHECK,
            content=b'{"user": "a\\u0000", "code": "1"}',
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        assert nul.status_code == 400
        assert nul.json()["error"] == "malformed"


def _basic(service: Any, secret: str) -> dict[str, str]:
    pair = f"{service.client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def test_token_endpoint_refuses_a_bad_secret_and_a_replayed_refresh_token(
    base: str,
    alice_totp: Any,
    mail: Any,  # noqa: F811
    clock: Any,
) -> None:
    from tests.oidc.test_flow import sign_in_with_code

    _method, secret = alice_totp
    browser = Client()
    code = code_from(sign_in_with_code(browser, secret, clock, authorize_url(mail.client_id)))
    tokens = exchange(browser, mail, code).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    with httpx.Client(base_url=base, timeout=10) as http:
        # A wrong client secret: refused before the refresh token is looked at.
        wrong = http.post("/o/token/", data=refresh, headers=_basic(mail, "not-the-secret"))
        assert wrong.status_code == 401
        assert wrong.json()["error"] == "invalid_client"
        assert_security_headers(wrong)
        # The right secret: new tokens (rotation), with the security headers.
        fresh = http.post("/o/token/", data=refresh, headers=_basic(mail, mail.client_secret))
        assert fresh.status_code == 200, fresh.text
        assert fresh.json()["refresh_token"] != tokens["refresh_token"]
        assert fresh.headers["Cache-Control"] == "no-store"
        assert_security_headers(fresh)
        assert "set-cookie" not in fresh.headers
        # The old refresh token again (stolen, replayed): refused, and its family revoked, so
        # the token the rotation just gave out is refused too.
        replayed = http.post("/o/token/", data=refresh, headers=_basic(mail, mail.client_secret))
        assert replayed.status_code == 400
        assert replayed.json()["error"] == "invalid_grant"
        follow = {"grant_type": "refresh_token", "refresh_token": fresh.json()["refresh_token"]}
        revoked = http.post("/o/token/", data=follow, headers=_basic(mail, mail.client_secret))
        assert revoked.status_code == 400


def test_ordinary_pages_still_get_the_full_chain(base: str) -> None:
    with httpx.Client(base_url=base, timeout=10) as http:
        page = http.get("/signin/")
        assert page.status_code == 200
        assert_security_headers(page)
        # CSRF: the form's cookie is set, and a post without the token is refused.
        assert "csrftoken" in page.cookies
        assert page.headers["Cache-Control"] == "no-store"
        # Locale: the page says which language it is in.
        assert page.headers["Content-Language"]
        forged = http.post("/signin/", data={"email": "a@example.org", "password": "x"})
        assert forged.status_code == 403
