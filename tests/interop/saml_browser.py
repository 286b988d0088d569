"""Be the browser for SAML interop tests: sign in at vahva through its pages, and carry the
auto-posted Response to the service's ACS."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from vahva.clock import FakeClock

from .conftest import Person, _form_value


@dataclass(frozen=True)
class Posted:
    """vahva's auto-posting form: where it posts and what."""

    action: str
    fields: dict[str, str]


def saml_form(page: str) -> Posted:
    action = re.search(r'<form method="post" action="([^"]+)" data-saml-post', page)
    assert action, page[:2000]
    fields = {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page)
    }
    return Posted(html.unescape(action.group(1)), fields)


def sign_in_to_saml(
    browser: httpx.Client,
    sso_url: str,
    *,
    person: Person,
    clock: FakeClock,
    expect_mfa: bool = True,
) -> Posted:
    """Open vahva's SSO URL, sign in as ``person`` (password, then the code when asked), and
    return the form vahva shows to post the Response to the service."""
    response = browser.get(sso_url)
    assert response.status_code == 302, response.text[:500]
    signin_url = urljoin(sso_url, response.headers["location"])
    assert "/signin/" in signin_url, signin_url
    page = browser.get(signin_url)
    response = browser.post(
        signin_url,
        data={
            "csrfmiddlewaretoken": _form_value(page.text, "csrfmiddlewaretoken"),
            "email": person.email,
            "password": person.password,
            # From the address: the page's first "next" field is the language form's.
            "next": parse_qs(urlsplit(signin_url).query)["next"][0],
        },
    )
    assert response.status_code == 302, response.text[:500]
    location = urljoin(signin_url, response.headers["location"])
    if expect_mfa:
        assert location.endswith("/signin/verify/"), f"MFA was not asked: {location}"
        page = browser.get(location)
        response = browser.post(
            location,
            data={
                "csrfmiddlewaretoken": _form_value(page.text, "csrfmiddlewaretoken"),
                "code": person.code(clock),
            },
        )
        location = urljoin(location, response.headers.get("location", ""))
    for _hop in range(6):
        response = browser.get(location)
        if response.status_code == 200 and "data-saml-post" in response.text:
            return saml_form(response.text)
        assert response.status_code == 302, f"{location}: {response.status_code}\n{_log()}"
        location = urljoin(location, response.headers["location"])
    raise AssertionError(f"vahva never answered the service: {location}")


def _log() -> str:
    from vahva.audit.models import AuditEvent

    return "\n".join(f"{e.action}: {e.reason}" for e in AuditEvent.objects.order_by("id"))


def post_to_service(browser: httpx.Client, posted: Posted) -> Any:
    return browser.post(posted.action, data=posted.fields)
