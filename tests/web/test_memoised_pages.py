"""The memoised parts of web/base.html: the same pages, byte for byte, and nothing personal kept.

"Plain" is each template with its ``{% memoise %}`` tags taken out and its ``{% field %}`` tags
written back as the include they replace (``chrome.plain_source``): what Django rendered before.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client, override_settings
from django.urls import reverse

import vahva
from tests.helpdesk.conftest import grant_helpdesk
from tests.helpers import force_mfa_login, sign_in_password
from vahva.web.templatetags.chrome import plain_source

LANGUAGES = [code for code, _name in settings.LANGUAGES]
#: The templates that carry {% memoise %} or {% field %}, by name.
MEMOISED = {
    "web/base.html": "vahva/web/templates/web/base.html",
    "signin/password.html": "vahva/signin/templates/signin/password.html",
    "methods/_code_verify.html": "vahva/methods/templates/methods/_code_verify.html",
    "methods/totp/verify.html": "vahva/methods/templates/methods/totp/verify.html",
}
TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


def source(name: str) -> str:
    return (Path(vahva.__file__).parent.parent / MEMOISED[name]).read_text(encoding="utf-8")


@contextmanager
def plain_templates() -> Iterator[None]:
    """The templates without the memo: a locmem loader in front of the app directories."""
    [engine] = settings.TEMPLATES
    plain = {name: plain_source(source(name)) for name in MEMOISED}
    assert all("memoise %}" not in text and "{% field" not in text for text in plain.values())
    with override_settings(
        TEMPLATES=[
            {
                **engine,
                "APP_DIRS": False,
                "OPTIONS": {
                    **engine["OPTIONS"],
                    "loaders": [
                        ("django.template.loaders.locmem.Loader", plain),
                        "django.template.loaders.app_directories.Loader",
                    ],
                },
            }
        ]
    ):
        yield


def page(client: Client, path: str) -> tuple[bytes, list[bytes]]:
    """The page with its CSRF tokens taken out (masked afresh on every render), and them."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    tokens = TOKEN.findall(response.content)
    return TOKEN.sub(b'name="csrfmiddlewaretoken" value="-"', response.content), tokens


def same_pages(visits: list[tuple[Client, str]]) -> None:
    """Every page memoised equals its plain render: all plain first, then every page twice
    memoised (filling the memo, then from it), so that one language's, one person's or one
    page's memoised parts are served to the others."""
    with plain_templates():
        plain = [page(client, path) for client, path in visits]
    for _ in range(2):
        for (client, path), (expected, expected_tokens) in zip(visits, plain, strict=True):
            got, tokens = page(client, path)
            assert got == expected, (client.cookies.get(settings.LANGUAGE_COOKIE_NAME), path)
            assert len(tokens) == len(expected_tokens) >= 1, path


def browser(language: str) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


@pytest.mark.django_db
def test_signed_out_pages_are_the_plain_pages(alice_totp: Any, clock: Any) -> None:
    visits = []
    for language in LANGUAGES:
        client = browser(language)
        visits += [(client, "/signin/"), (client, "/help/"), (client, "/signin/?next=/help/")]
        attempt = browser(language)
        assert sign_in_password(attempt).status_code == 302
        visits.append((attempt, "/signin/verify/"))  # the TOTP code page, an attempt under way
    same_pages(visits)


@pytest.mark.django_db
def test_signed_in_pages_are_the_plain_pages(alice: Any, make_user: Any, clock: Any) -> None:
    # Staff with the helpdesk permission: the nav shows the helpdesk as well.
    agent = grant_helpdesk(make_user("agent@example.org", full_name="Agent", is_staff=True))
    visits = []
    for language in LANGUAGES:
        signed_in, staff, signed_out = browser(language), browser(language), browser(language)
        force_mfa_login(signed_in, alice)
        force_mfa_login(staff, agent)
        visits += [
            (signed_in, "/help/"),
            (staff, "/help/"),
            (signed_out, "/help/"),
            (signed_in, "/security-info/"),
        ]
    same_pages(visits)
    signout = f'action="{reverse("signin:signout")}"'.encode()
    staff_page, signed_out_page = visits[1][0].get("/help/"), visits[2][0].get("/help/")
    assert b'href="/helpdesk/"' in staff_page.content
    assert signout in staff_page.content
    assert b'href="/helpdesk/"' not in signed_out_page.content
    assert signout not in signed_out_page.content


@pytest.mark.django_db
def test_what_a_request_brings_is_not_memoised(alice: Any) -> None:
    # The language form's `next` is the request's own path, and the CSRF token is each
    # browser's own: a memoised copy would send one person's token to the next (CSRF) and
    # everyone back to the first person's page.
    one, two = Client(), Client()
    force_mfa_login(two, alice)  # signed in: the sign-out form's token too
    pages = {}
    for client, path in ((one, "/help/?from=one"), (two, "/help/?from=two")):
        text = client.get(path).content
        pages[path] = text
        assert f'name="next" value="{path}"'.encode() in text
        secret = client.cookies[settings.CSRF_COOKIE_NAME].value
        tokens = TOKEN.findall(text)
        assert tokens
        assert {_unmask_cipher_token(token.decode()) for token in tokens} == {secret}
    assert (
        one.cookies[settings.CSRF_COOKIE_NAME].value != two.cookies[settings.CSRF_COOKIE_NAME].value
    )
    assert b'value="/help/?from=one"' not in pages["/help/?from=two"]


@pytest.mark.django_db
def test_a_new_organisation_name_shows_at_once() -> None:
    # The memoised parts and the context processor's values are built once per process:
    # a changed setting (override_settings) starts afresh.
    client = browser("en")
    assert b"Sign-in service of Example Two" not in client.get("/signin/").content
    with override_settings(VAHVA={**settings.VAHVA, "ORGANISATION_NAME": "Example Two"}):
        text = client.get("/signin/").content
        assert b"<title>Sign in \xc2\xb7 Example Two</title>" in text
        assert b'<a class="brand" href="/">Example Two</a>' in text
        assert b"Sign-in service of Example Two" in text
        assert b"Use your Example Two e-mail address" in text
    assert b"Example Two" not in client.get("/signin/").content
