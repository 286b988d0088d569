"""``ui_locales`` (OIDC Core §3.1.2.1): a service that knows its person's language gets vahva's
sign-in pages in it, unless the person chose a language on vahva's pages; a tag vahva does not
speak, or garbage, is no error."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.helpers import text

from .helpers import authorize_url

pytestmark = pytest.mark.django_db


def _to_sign_in(client: Client, mail: Any, **extra: str) -> Any:
    response = client.get(authorize_url(mail.client_id, **extra))
    assert response.status_code == 302, response.content[:300]
    assert response["Location"].startswith("/signin/?next=")
    return response


def test_the_first_language_vahva_speaks_is_the_sign_in_pages(mail: Any, client: Client) -> None:
    response = _to_sign_in(client, mail, ui_locales="de-DE fi-FI sv")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fi"
    page = client.get(response["Location"])
    assert page["Content-Language"] == "fi"
    assert '<html lang="fi">' in page.content.decode()
    assert "Kirjaudu sisään" in text(page)


def test_swedish_too(mail: Any, client: Client) -> None:
    page = client.get(_to_sign_in(client, mail, ui_locales="sv-SE")["Location"])
    assert "Logga in" in text(page)


def test_the_persons_own_choice_wins(mail: Any, client: Client) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "sv"
    response = _to_sign_in(client, mail, ui_locales="fi")
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert "Logga in" in text(client.get(response["Location"]))


@pytest.mark.parametrize(
    "tags",
    [
        "xx",
        "de ja",
        "",
        "   ",
        "<script>alert(1)</script>",
        "f" * 500,
        "fi_FI%00",
        "-- ..",
        "x " * 300,
    ],
)
def test_a_language_vahva_does_not_speak_or_garbage_is_no_error(
    mail: Any, client: Client, tags: str
) -> None:
    response = _to_sign_in(client, mail, ui_locales=tags)
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert client.get(response["Location"])["Content-Language"] == settings.LANGUAGE_CODE


def test_only_the_first_ten_tags_are_looked_at(mail: Any, client: Client) -> None:
    response = _to_sign_in(client, mail, ui_locales=" ".join(["xx"] * 10 + ["fi"]))
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_discovery_says_which(client: Client) -> None:
    data = client.get("/o/.well-known/openid-configuration").json()
    assert data["ui_locales_supported"] == ["en", "fi", "sv"]
