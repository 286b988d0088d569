"""``vahva validate-client add NAME`` prints the key once; ``list``; ``remove``. Audited."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from tests.conftest import totp_code
from tests.validate.conftest import CHECK
from vahva.audit.models import AuditEvent
from vahva.validate.models import ApiClient

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("validate_client", *args, stdout=out)
    return out.getvalue()


def test_add_prints_a_key_that_works(client: Client, alice_totp: Any, clock: Any) -> None:
    output = run("add", "Campus VPN")
    key = re.search(r"API key \(shown once, keep it secret\): (\S+)", output)
    assert key is not None, output
    response = client.post(
        CHECK,
        data=json.dumps({"user": "alice@example.org", "code": totp_code(alice_totp[1], clock())}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key.group(1)}"},
    )
    assert response.status_code == 200, response.content
    # Shown once: not in the database, not in the list.
    assert key.group(1).split(".")[1] not in str(list(ApiClient.objects.values()))
    listing = run("list")
    assert "Campus VPN" in listing
    assert key.group(1) not in listing
    assert "last used" in listing


def test_remove(db: Any) -> None:
    run("add", "radius")
    assert "Removed radius" in run("remove", "radius")
    assert not ApiClient.objects.exists()
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "validate.client_added",
        "validate.client_removed",
    ]
    with pytest.raises(CommandError, match="No client called 'radius'"):
        run("remove", "radius")


@pytest.mark.parametrize("name", ["", "   ", "a" * 101, "bad\nname", "<script>"])
def test_bad_names_are_refused(db: Any, name: str) -> None:
    with pytest.raises(CommandError, match="1-100 letters"):
        run("add", name)
    assert not ApiClient.objects.exists()


def test_a_name_is_taken_once(db: Any) -> None:
    run("add", "radius")
    with pytest.raises(CommandError, match="already a client called 'radius'"):
        run("add", "radius")
    assert ApiClient.objects.count() == 1
    assert AuditEvent.objects.filter(action="validate.client_added").count() == 1


def test_list_when_there_is_none(db: Any) -> None:
    assert run("list").strip() == "No clients."
