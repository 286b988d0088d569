"""CSP form-action lets the sign-in's forms end at the service (Chromium checks redirects)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.helpers import sign_in_password
from vahva.web.middleware import csp_source

from .helpers import authorize_url, query_of

pytestmark = pytest.mark.django_db


def form_action(response: Any) -> str:
    policy = response["Content-Security-Policy"]
    return next(d for d in policy.split("; ") if d.startswith("form-action"))


def test_sign_in_pages_for_a_service_may_post_on_to_it(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any
) -> None:
    assert form_action(client.get("/signin/")) == "form-action 'self'"
    response = client.get(authorize_url(mail.client_id))
    page = client.get(response["Location"])
    assert form_action(page) == "form-action 'self' http://localhost:8001"
    response = sign_in_password(client, next=query_of(response["Location"])["next"])
    assert form_action(client.get(response["Location"])) == (
        "form-action 'self' http://localhost:8001"
    )


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("https://mail.example.org/callback", "https://mail.example.org"),
        ("http://127.0.0.1:53124/callback", "http://127.0.0.1:53124"),
        ("org.example.mail:/callback", "org.example.mail:"),
        ("https://a.example;script-src *", None),
        ("https://a.example:99999/", None),
        ("", None),
    ],
)
def test_csp_source(url: str, source: str | None) -> None:
    assert csp_source(url) == source
