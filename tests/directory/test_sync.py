"""``vahva directory sync`` and ``vahva directory test`` against a real slapd."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from tests.directory.conftest import ad_table, openldap_table
from tests.helpers import force_mfa_login
from tests.slapd_server import SlapdServer
from vahva.accounts.models import User
from vahva.audit.models import AuditEvent
from vahva.directory.models import DirectoryLink

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("directory", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_sync_creates_everyone_with_roles(directory: SlapdServer) -> None:
    out = run("sync")
    assert "Synced: 5 read, 5 created, 0 updated, 0 unchanged, 0 disabled" in out
    assert set(User.objects.values_list("email", flat=True)) == {
        f"{uid}@example.com" for uid in ("alice", "bob", "carol", "dave", "erin")
    }
    assert User.objects.get(email="alice@example.com").has_perm("helpdesk.access")
    assert User.objects.get(email="erin@example.com").is_superuser
    assert not any(u.has_usable_password() for u in User.objects.all())
    assert AuditEvent.objects.filter(action="directory.sync").count() == 1


def test_a_second_sync_changes_only_what_changed(directory: SlapdServer) -> None:
    run("sync")
    directory.modify(directory.user_dn("carol"), cn=[b"Carol Newname"])
    out = run("sync")
    assert "5 read, 0 created, 1 updated, 4 unchanged, 0 disabled" in out
    assert User.objects.get(email="carol@example.com").full_name == "Carol Newname"


def test_people_gone_from_the_directory_are_disabled_at_once(
    directory: SlapdServer, client: Client
) -> None:
    run("sync")
    bob = User.objects.get(email="bob@example.com")
    force_mfa_login(client, bob)
    assert client.get("/security-info/").status_code == 200
    directory.delete(directory.user_dn("bob"))
    out = run("sync")
    assert "4 unchanged, 1 disabled" in out
    bob.refresh_from_db()
    assert not bob.is_active
    # His open session ends now, not when it would have expired.
    assert client.get("/security-info/").status_code == 302
    assert AuditEvent.objects.filter(action="directory.disabled", subject_id=bob.pk).exists()


def test_disabling_revokes_the_persons_oidc_tokens(directory: SlapdServer) -> None:
    import datetime as dt

    from oauth2_provider.models import AccessToken

    from vahva import clock

    run("sync")
    bob = User.objects.get(email="bob@example.com")
    AccessToken.objects.create(
        user=bob, token="bob-token", expires=clock.now() + dt.timedelta(hours=1), scope="openid"
    )
    directory.delete(directory.user_dn("bob"))
    run("sync")
    # A service holding bob's token can no longer use it.
    assert not AccessToken.objects.filter(user=bob).exists()
    assert AuditEvent.objects.filter(action="oidc.tokens_revoked", subject_id=bob.pk).exists()


def test_disabled_in_an_ad_shaped_directory(configure: Any, slapd: SlapdServer) -> None:
    configure(ad_table(slapd))
    run("sync")
    assert not User.objects.get(email="dave@example.com").is_active
    assert User.objects.get(email="bob@example.com").is_active
    slapd.modify(slapd.user_dn("bob"), userAccountControl=[b"514"])
    assert "1 disabled" in run("sync")
    assert not User.objects.get(email="bob@example.com").is_active
    link = DirectoryLink.objects.get(user__email="bob@example.com")
    assert link.immutable_id == "00000000-0000-0000-0000-000000000002"


def test_dry_run_saves_nothing(directory: SlapdServer) -> None:
    out = run("sync", "--dry-run")
    assert "Dry run (nothing saved): 5 read, 5 created" in out
    assert not User.objects.exists()
    assert not DirectoryLink.objects.exists()


def test_paged_search_reads_every_page(configure: Any, slapd: SlapdServer) -> None:
    configure(openldap_table(slapd, page_size=2))  # 5 people: three pages
    assert "5 read, 5 created" in run("sync")


def test_sync_refuses_to_disable_anyone_when_the_directory_is_down(
    directory: SlapdServer,
) -> None:
    run("sync")
    directory.stop()
    with pytest.raises(CommandError, match="cannot reach the directory"):
        run("sync")
    assert User.objects.filter(is_active=True).count() == 5


def test_the_test_command_shows_what_vahva_reads(directory: SlapdServer) -> None:
    out = run("test", "alice")
    assert "Connected to ldap://127.0.0.1:" in out
    assert "Found: uid=alice,ou=people,dc=example,dc=com" in out
    assert "email         (mail): alice@example.com" in out
    assert "roles: helpdesk" in out
    assert "in vahva: not yet" in out
    # What a name finds is escaped there too.
    with pytest.raises(CommandError, match="0 entries match"):
        run("test", "*")


def test_commands_say_when_the_directory_is_off(db: Any) -> None:
    with pytest.raises(CommandError, match="not enabled"):
        run("sync")


def test_a_sync_that_reads_nobody_disables_nobody(configure: Any, slapd: SlapdServer) -> None:
    configure(openldap_table(slapd))
    run("sync")
    # A typo in the filter: the directory "has" nobody.
    configure(openldap_table(slapd, sync_filter="(objectClass=inetOrgPersn)"))
    with pytest.raises(CommandError, match="no longer lists 5 of the 5 people"):
        run("sync")
    assert User.objects.filter(is_active=True).count() == 5
    out = run("sync", "--allow-mass-disable")
    assert "5 disabled" in out
    assert not User.objects.filter(is_active=True).exists()
