"""Connecting a service from the shell: `vahva client ...`."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command
from oauth2_provider.models import Application

from vahva.audit.models import AuditEvent
from vahva.oidc.clients import InvalidClient, check_redirect_uri
from vahva.oidc.models import Service

pytestmark = pytest.mark.django_db


def test_add_prints_the_secret_once_and_stores_only_a_hash(capsys: Any) -> None:
    call_command(
        "client",
        "add",
        "--name",
        "Learning",
        "--redirect-uri",
        "https://learn.example.org/oidc/callback",
        "--mfa",
        "always",
    )
    out = capsys.readouterr().out
    client_id = out.split("client_id:")[1].split()[0]
    secret = out.split("client_secret:")[1].split()[0]
    assert "shown only now" in out
    app = Application.objects.get(client_id=client_id)
    assert app.client_secret != secret  # hashed
    assert app.skip_authorization  # first-party: no consent screen
    assert Service.objects.get(application=app).mfa_rule == "always"
    assert AuditEvent.objects.filter(action="oidc.client_added").exists()
    call_command("client", "list")
    assert "Learning" in capsys.readouterr().out


def test_public_client_has_no_secret(capsys: Any) -> None:
    call_command(
        "client",
        "add",
        "--name",
        "Phone app",
        "--public",
        "--redirect-uri",
        "org.example.mail:/callback",
    )
    out = capsys.readouterr().out
    assert "client_secret" not in out
    assert "PKCE" in out


@pytest.mark.parametrize(
    "uri",
    [
        "http://mail.example.org/callback",  # plain http off the machine
        "javascript:alert(1)",
        "data:text/html,x",
        "https://mail.example.org/cb#frag",
        "ftp://mail.example.org/cb",
        "/relative/path",
        "https:///nohost",
    ],
)
def test_unsafe_redirect_uris_are_refused(uri: str) -> None:
    with pytest.raises(InvalidClient):
        check_redirect_uri(uri)
    with pytest.raises(CommandError):
        call_command("client", "add", "--name", "X", "--redirect-uri", uri)
    assert not Application.objects.exists()


@pytest.mark.parametrize(
    "uri",
    [
        "https://mail.example.org/callback",
        "http://localhost:8001/callback",
        "http://127.0.0.1/callback",
        "http://[::1]/callback",
        "org.example.mail:/callback",
    ],
)
def test_acceptable_redirect_uris(uri: str) -> None:
    assert check_redirect_uri(uri) == uri


def test_set_rule_and_remove(capsys: Any) -> None:
    call_command(
        "client",
        "add",
        "--name",
        "Wiki",
        "--client-id",
        "wiki",
        "--redirect-uri",
        "https://wiki.example.org/cb",
    )
    call_command("client", "set", "wiki", "--mfa", "never")
    assert Service.objects.get(application__client_id="wiki").mfa_rule == "never"
    call_command("client", "remove", "wiki")
    assert not Application.objects.filter(client_id="wiki").exists()
    with pytest.raises(CommandError, match="no service"):
        call_command("client", "remove", "wiki")
