"""``vahva radius client add/list/remove`` and the admin: the secret is encrypted at rest and
never shown; bad input is a clear error, nothing half-saved."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from vahva.audit.models import AuditEvent
from vahva.radius.models import RadiusClient

pytestmark = pytest.mark.django_db

SECRET = "a-shared-secret-of-some-length"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("radius", *args, stdout=out)
    return out.getvalue()


def test_add_list_remove() -> None:
    out = run(
        "client",
        "add",
        "Campus VPN",
        "--address",
        "10.0.0.1",
        "--address",
        "2001:db8::/64",
        "--secret",
        SECRET,
        "--mfa",
        "always",
        "--appended-codes",
    )
    assert "Added RADIUS client Campus VPN (10.0.0.1/32, 2001:db8::/64), MFA always" in out
    saved = RadiusClient.objects.get()
    assert saved.secret == SECRET
    assert saved.appended_codes
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM radius_radiusclient")
        (stored,) = cursor.fetchone()
    # Encrypted at rest: a copy of the database does not give the shared secret away.
    assert SECRET not in stored
    assert stored.startswith("k1$")
    listed = run("client", "list")
    assert "Campus VPN\t10.0.0.1/32, 2001:db8::/64\tservice Campus VPN\tMFA always" in listed
    assert SECRET not in listed
    assert AuditEvent.objects.filter(action="radius.client_added").count() == 1
    assert "Removed Campus VPN" in run("client", "remove", "Campus VPN")
    assert not RadiusClient.objects.exists()
    assert "No RADIUS clients." in run("client", "list")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--address", "10.0.0.300", "--secret", SECRET], "not an address"),
        (["--address", "10.0.0.1", "--secret", "short"], "at least 16"),
    ],
)
def test_bad_input_is_refused(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("client", "add", "VPN", *args)
    assert not RadiusClient.objects.exists()


def test_duplicate_name_and_unknown_remove() -> None:
    run("client", "add", "VPN", "--address", "10.0.0.1", "--secret", SECRET)
    with pytest.raises(CommandError, match="already a client called 'VPN'"):
        run("client", "add", "VPN", "--address", "10.0.0.2", "--secret", SECRET)
    with pytest.raises(CommandError, match="No RADIUS client called 'Lab'"):
        run("client", "remove", "Lab")


def test_admin_adds_a_client_and_never_shows_the_secret(admin_client: Any) -> None:
    page = admin_client.post(
        "/admin/radius/radiusclient/add/",
        {
            "name": "Lab",
            "addresses": "192.0.2.0/24 192.0.2.77",
            "secret": SECRET,
            "service": "",
            "mfa_rule": "always",
            "prompt": "wait",
        },
    )
    assert page.status_code == 302, page.content.decode()[:2000]
    saved = RadiusClient.objects.get()
    assert saved.addresses == ["192.0.2.0/24", "192.0.2.77/32"]
    assert saved.secret == SECRET
    form = admin_client.get(f"/admin/radius/radiusclient/{saved.pk}/change/")
    assert SECRET not in form.content.decode()
    bad = admin_client.post(
        "/admin/radius/radiusclient/add/",
        {
            "name": "Bad",
            "addresses": "nonsense",
            "secret": "x",
            "mfa_rule": "always",
            "prompt": "wait",
        },
    )
    assert bad.status_code == 200
    assert "not an address" in bad.content.decode()
    assert RadiusClient.objects.count() == 1


def test_approve_only_is_for_wait_mode_clients() -> None:
    out = run(
        "client",
        "add",
        "OpenVPN",
        "--address",
        "10.0.0.5",
        "--secret",
        SECRET,
        "--prompt",
        "wait",
        "--approve-only",
    )
    assert "prompt wait, approve-only pushes." in out
    assert "approve-only pushes" in run("client", "list")
    assert RadiusClient.objects.get().approve_only
    # A client that shows challenges shows the number: it keeps number matching.
    with pytest.raises(CommandError, match="keeps number matching"):
        run(
            "client",
            "add",
            "FortiGate",
            "--address",
            "10.0.0.6",
            "--secret",
            SECRET,
            "--approve-only",
        )
    assert RadiusClient.objects.count() == 1
    added = AuditEvent.objects.get(action="radius.client_added")
    assert added.data["approve_only"] is True


def test_admin_refuses_approve_only_for_a_challenge_client(admin_client: Any) -> None:
    fields = {
        "name": "Lab",
        "addresses": "192.0.2.0/24",
        "secret": SECRET,
        "service": "",
        "mfa_rule": "always",
        "prompt": "challenge",
        "approve_only": "on",
    }
    page = admin_client.post("/admin/radius/radiusclient/add/", fields)
    assert page.status_code == 200
    assert "keeps number matching" in page.content.decode()
    assert not RadiusClient.objects.exists()
    saved = admin_client.post("/admin/radius/radiusclient/add/", {**fields, "prompt": "wait"})
    assert saved.status_code == 302
    assert RadiusClient.objects.get().approve_only
