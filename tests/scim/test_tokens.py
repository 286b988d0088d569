"""``vahva scim token add|list|revoke``: one token per identity system, stored hashed."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from .conftest import Scim

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("scim", *args, stdout=out)
    return out.getvalue()


def test_add_prints_a_token_once_and_keeps_only_its_hash(client: Any) -> None:
    from vahva.scim.models import ProvisioningClient

    printed = _run("token", "add", "Okta")

    token = re.search(r"Bearer token \(shown once, keep it secret\): (\S+)", printed)
    assert token is not None
    stored = ProvisioningClient.objects.get(name="Okta")
    secret = token.group(1).split(".", 1)[1]
    assert secret not in stored.token_hash
    assert token.group(1) not in _run("token", "list")
    assert Scim(client, token.group(1)).get("/Users").status_code == 200


def test_list_and_revoke() -> None:
    _run("token", "add", "Okta")
    _run("token", "add", "Entra ID")

    assert "Revoked Okta" in _run("token", "revoke", "Okta")

    listed = _run("token", "list")
    assert re.search(r"^Entra ID\t.*\tactive$", listed, re.MULTILINE)
    assert re.search(r"^Okta\t.*\trevoked ", listed, re.MULTILINE)
    with pytest.raises(CommandError):
        _run("token", "revoke", "Okta")
    with pytest.raises(CommandError):
        _run("token", "revoke", "Nobody")


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "<script>", "Okta"])
def test_bad_or_taken_names_are_refused(name: str) -> None:
    _run("token", "add", "Okta")

    with pytest.raises(CommandError):
        _run("token", "add", name)


def test_token_changes_are_audited() -> None:
    from vahva.audit.models import AuditEvent

    _run("token", "add", "Okta")
    _run("token", "revoke", "Okta")

    assert list(AuditEvent.objects.order_by("id").values_list("action", "data__client")) == [
        ("scim.token_added", "Okta"),
        ("scim.token_revoked", "Okta"),
    ]


def test_the_vahva_command_knows_scim() -> None:
    from vahva.cli import main

    assert main(["scim", "token", "add", "Script"]) == 0
