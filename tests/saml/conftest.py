"""Fixtures for the SAML IdP: a registered test service and helpers to read vahva's pages."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.test import Client

from tests.helpers import force_mfa_login

from .sp import TestSP

SSO = "http://localhost:8000/saml/sso"


@pytest.fixture
def idp_metadata(db: Any) -> str:
    from vahva.saml import idp

    return idp.metadata_xml()


@pytest.fixture
def make_sp(idp_metadata: str) -> Any:
    from vahva.saml import providers

    def make(**kwargs: Any) -> tuple[TestSP, Any]:
        options = {
            key: kwargs.pop(key)
            for key in ("mfa_rule", "release", "profile", "require_signed_requests", "name")
            if key in kwargs
        }
        sp = TestSP(idp_metadata, **kwargs)
        row = providers.add(metadata=sp.metadata().encode(), **options)
        return sp, row

    return make


@pytest.fixture
def service(make_sp: Any) -> tuple[TestSP, Any]:
    return make_sp(name="Demo Learn")  # type: ignore[no-any-return]


def signed_in(client: Client, user: Any, *, amr: tuple[str, ...] = ("mfa", "otp", "pwd")) -> None:
    """``user`` signed in to ``client`` with the given factors."""
    from vahva import clock
    from vahva.signin.requirements import SESSION_AUTH

    force_mfa_login(client, user)
    session = client.session
    session[SESSION_AUTH] = {
        "at": clock.now().timestamp(),
        "amr": list(amr),
        "method": "totp" if "mfa" in amr else "",
    }
    session.save()


def form_fields(response: Any) -> dict[str, str]:
    """The fields of the auto-posting form vahva shows, and its action."""
    page = response.content.decode()
    action = re.search(r'<form method="post" action="([^"]+)" data-saml-post', page)
    assert action, page[:2000]
    fields = {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page)
    }
    fields["action"] = html.unescape(action.group(1))
    return fields
