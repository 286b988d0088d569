"""The web shell: security headers, cookies, help, error pages, languages."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.helpers import sign_in_password, text

pytestmark = pytest.mark.django_db


def test_security_headers(client: Client) -> None:
    response = client.get("/signin/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store"
    assert "<script>" not in text(response)
    assert " style=" not in text(response)


def test_cookies_are_httponly_samesite(alice: Any, client: Client, clock: Any) -> None:
    response = sign_in_password(client)
    from django.conf import settings

    for name in (settings.SESSION_COOKIE_NAME, settings.KNOWN_BROWSER_COOKIE_NAME):
        cookie = response.cookies[name]
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"


def test_production_cookies_are_secure() -> None:
    from vahva.settings.config import load

    assert load({"VAHVA_CONFIG": ""}).secure_cookies is True


def test_help_explains_factors_and_helpdesk(client: Client) -> None:
    body = text(client.get("/help/"))
    for words in (
        "Something you know",
        "Something you have",
        "Something you are",
        "How to register",
        "How to sign in",
        "I lost my phone",
        "helpdesk@demo.example",
        "http://localhost:8000/setup",
    ):
        assert words in body


def test_unknown_page_is_a_friendly_404(client: Client) -> None:
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "There is no page at this address." in text(response)


def test_signout_needs_post(alice: Any, client: Client, clock: Any) -> None:
    sign_in_password(client)
    assert "Sign out" in text(client.get("/signout/"))
    assert client.get("/security-info/setup/").status_code == 200  # still signed in
    assert "You have signed out" in text(client.post("/signout/"))
    assert client.get("/security-info/").status_code == 302


def test_help_page_names_this_deployments_policy(client: Any, settings: Any) -> None:
    settings.VAHVA = {
        **settings.VAHVA,
        "TRUSTED_NETWORKS": {"Campus": ["130.233.0.0/16"], "VPN": ["10.8.0.0/16"]},
        "ACTIVATION_DELAY": 7200,
        "REMEMBER_DEVICE_DAYS": 14,
    }
    body = client.get("/help/").content.decode()
    assert "outside the organisation's own networks (Campus, VPN)" in body
    assert "It is asked from 2 hours after you register your first method" in body
    assert "Don't ask again on this device for 14 days" in body
    assert "temporary access pass" in body
    settings.VAHVA = {**settings.VAHVA, "TRUSTED_NETWORKS": {}, "ACTIVATION_DELAY": 0}
    body = client.get("/help/").content.decode()
    assert "Every time you sign in" in body
    assert "after you register your first method" not in body


@pytest.mark.parametrize(
    ("method", "path", "data", "content_type", "says"),
    [
        ("get", "/o/authorize/?client_id=%00x", None, None, "contains a NUL character"),
        ("post", "/signin/", {"email": "a\x00@example.org"}, None, "contains a NUL character"),
        ("post", "/o/token/", {"code": "\x00"}, None, '"error": "invalid_request"'),
        ("post", "/api/device/v1/answer", '{"c": "\\u0000"}', "application/json", '"malformed"'),
    ],
)
def test_a_nul_byte_is_a_400_never_a_500(
    client: Client, method: str, path: str, data: Any, content_type: str | None, says: str
) -> None:
    # PostgreSQL cannot store NUL: refused before any view or query sees it.
    extra = {"content_type": content_type} if content_type else {}
    response = getattr(client, method)(path, data, **extra)
    assert response.status_code == 400
    assert says in response.content.decode()


def test_forwarded_proto_counts_only_from_a_trusted_proxy(settings: Any) -> None:
    from django.http import HttpResponse
    from django.test import RequestFactory

    from vahva.web.middleware import RequestHygieneMiddleware

    seen: list[bool] = []

    def view(request: Any) -> HttpResponse:
        seen.append(request.is_secure())
        return HttpResponse()

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.VAHVA = {**settings.VAHVA, "TRUSTED_PROXIES": ["192.0.2.10"]}
    middleware = RequestHygieneMiddleware(view)
    for peer in ("198.51.100.7", "192.0.2.10"):
        request = RequestFactory().get("/", HTTP_X_FORWARDED_PROTO="https", REMOTE_ADDR=peer)
        middleware(request)
    # A stranger claiming https is not believed; the proxy is.
    assert seen == [False, True]
