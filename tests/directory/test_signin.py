"""Sign-in by bind against a real slapd: what the person (or the attacker) sees."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.test import Client

from tests.helpers import sign_in_password, text
from tests.slapd_server import USERS, SlapdServer
from vahva.accounts.models import User
from vahva.audit.models import AuditEvent
from vahva.directory.models import DirectoryLink

pytestmark = pytest.mark.django_db


def pw(uid: str) -> str:
    return USERS[uid][0]


def signed_in_as(client: Client) -> User | None:
    pk = client.session.get("_auth_user_id")
    return User.objects.get(pk=pk) if pk else None


def attempt_of(client: Client) -> User | None:
    """Who the password step accepted (signed in, or on to the second factor)."""
    from vahva.signin.models import SignInAttempt

    attempt = SignInAttempt.objects.order_by("-created_at").first()
    return attempt.user if attempt else None


def test_bind_signs_in_and_keeps_no_password(directory: SlapdServer, client: Client) -> None:
    response = sign_in_password(client, "alice@example.com", pw("alice"))
    assert response.status_code == 302
    alice = User.objects.get(email="alice@example.com")
    assert attempt_of(client) == alice
    assert alice.full_name == "Alice Example"
    # vahva stores no copy: the directory checks the password every time.
    assert not alice.has_usable_password()
    link = DirectoryLink.objects.get(user=alice)
    assert link.dn == directory.user_dn("alice")
    assert link.given_name == "Alice"
    assert link.mobile == "+358400000001"
    # The number "in the system" the setup wizard offers (proved by a text or call first).
    assert alice.mobile_in_system == "+358400000001"


def test_wrong_password_is_refused_like_an_unknown_address(
    directory: SlapdServer, client: Client
) -> None:
    wrong = sign_in_password(client, "alice@example.com", "not-her-password")
    unknown = sign_in_password(client, "nobody@example.com", "whatever-password")
    assert wrong.status_code == unknown.status_code == 400
    message = "The e-mail address or the password is not right."
    assert message in text(wrong)
    assert message in text(unknown)
    assert attempt_of(client) is None


@pytest.mark.parametrize("typed", ["alice", "ALICE@example.com", " alice@example.com "])
def test_every_name_the_directory_knows_reaches_the_same_person(
    directory: SlapdServer, client: Client, typed: str
) -> None:
    response = sign_in_password(client, typed, pw("alice"))
    assert response.status_code == 302
    assert attempt_of(client) == User.objects.get(email="alice@example.com")
    assert User.objects.count() == 1


def test_upn_and_sam_account_name_on_an_ad_shaped_tree(
    ad_directory: SlapdServer, client: Client
) -> None:
    for typed in ("alice@corp.example.com", "alice", "alice@example.com"):
        user = authenticate(None, username=typed, password=pw("alice"))
        assert user is not None
        assert user.email == "alice@example.com"
    link = DirectoryLink.objects.get()
    # objectGUID (16 bytes, little-endian) is kept as the UUID AD's own tools show.
    assert link.immutable_id == "00000000-0000-0000-0000-000000000001"
    assert link.username == "alice"
    assert User.objects.count() == 1


def test_people_are_matched_by_the_immutable_id_not_the_address(
    directory: SlapdServer, client: Client
) -> None:
    first = authenticate(None, username="bob", password=pw("bob"))
    assert first is not None
    directory.modify(directory.user_dn("bob"), mail=[b"robert@example.com"])
    again = authenticate(None, username="bob", password=pw("bob"))
    assert again is not None
    assert again.pk == first.pk
    assert again.email == "robert@example.com"


def test_an_entry_with_a_local_admins_address_does_not_get_that_account(
    directory: SlapdServer, make_user: Any
) -> None:
    admin = make_user("carol@example.com", "break-glass password 1", is_superuser=True)
    # Account takeover: whoever controls carol's directory entry is not the local admin.
    assert authenticate(None, username="carol", password=pw("carol")) is None
    admin.refresh_from_db()
    assert admin.has_usable_password()
    assert not DirectoryLink.objects.exists()
    assert AuditEvent.objects.filter(action="directory.conflict").exists()


def test_an_old_local_password_does_not_work_for_a_directory_person(
    directory: SlapdServer, make_user: Any, client: Client
) -> None:
    make_user("bob@example.com", "bob's old local password")
    response = sign_in_password(client, "bob@example.com", "bob's old local password")
    assert response.status_code == 400
    assert attempt_of(client) is None
    # And once linked, the local copy is gone.
    assert authenticate(None, username="bob", password=pw("bob")) is not None
    assert not User.objects.get(email="bob@example.com").has_usable_password()


def test_disabled_account_is_refused(ad_directory: SlapdServer, client: Client) -> None:
    response = sign_in_password(client, "dave@example.com", pw("dave"))
    assert response.status_code == 400
    assert attempt_of(client) is None


def test_disabling_in_the_directory_ends_sign_in(ad_directory: SlapdServer, client: Client) -> None:
    assert authenticate(None, username="bob", password=pw("bob")) is not None
    ad_directory.modify(ad_directory.user_dn("bob"), userAccountControl=[b"514"])
    assert authenticate(None, username="bob", password=pw("bob")) is None
    assert not User.objects.get(email="bob@example.com").is_active


def test_groups_give_the_helpdesk_and_admin_roles(directory: SlapdServer) -> None:
    alice = authenticate(None, username="alice", password=pw("alice"))
    bob = authenticate(None, username="bob", password=pw("bob"))
    erin = authenticate(None, username="erin", password=pw("erin"))
    assert alice is not None
    assert bob is not None
    assert erin is not None
    alice = User.objects.get(pk=alice.pk)  # permissions are cached per instance
    assert alice.is_staff
    assert alice.has_perm("helpdesk.access")
    assert not alice.is_superuser
    assert not bob.is_staff
    assert not User.objects.get(pk=bob.pk).has_perm("helpdesk.access")
    assert erin.is_staff
    assert erin.is_superuser


def test_groups_read_from_member_lists(configure: Any, slapd: SlapdServer) -> None:
    from tests.directory.conftest import openldap_table

    configure(openldap_table(slapd, group_membership="member"))
    alice = authenticate(None, username="alice", password=pw("alice"))
    assert alice is not None
    assert User.objects.get(pk=alice.pk).has_perm("helpdesk.access")


def test_leaving_the_helpdesk_group_takes_the_role_away(directory: SlapdServer) -> None:
    from tests.slapd_server import HELPDESK_GROUP

    assert authenticate(None, username="alice", password=pw("alice")) is not None
    directory.modify(HELPDESK_GROUP, member=[directory.user_dn("bob").encode()])
    alice = authenticate(None, username="alice", password=pw("alice"))
    assert alice is not None
    alice = User.objects.get(pk=alice.pk)
    assert not alice.is_staff
    assert not alice.has_perm("helpdesk.access")


def engine_check(name: str, password: str) -> User | None:
    """The sign-in engine's password check (every protocol's), as a RADIUS request makes it."""
    from django.http import HttpRequest

    from vahva.errors import VahvaError
    from vahva.signin import engine

    request = HttpRequest()
    request.META["REMOTE_ADDR"] = "192.0.2.10"
    try:
        user: User = engine.check_password(request, name, password)
    except VahvaError:
        return None
    return user


@pytest.mark.parametrize(
    "typed",
    ["*", "*)(uid=*", "alice)(|(uid=*", "a*", "\\2a", "alice\x00", "*)(objectClass=*))(|(uid=*"],
)
def test_ldap_injection_finds_nobody(directory: SlapdServer, client: Client, typed: str) -> None:
    # Every password that could match: an injected filter must not pick an entry whose
    # password is the one typed (the directory backend itself, and every backend in turn).
    from vahva.directory.backend import DirectoryBackend

    for uid in USERS:
        assert DirectoryBackend().authenticate(None, username=typed, password=pw(uid)) is None
        assert engine_check(typed, pw(uid)) is None
    # (Those wrong passwords were counted: start the browser's try with a clean slate.)
    from vahva.signin.throttle import Throttle

    Throttle.objects.all().delete()
    response = sign_in_password(client, typed, pw("alice"))
    assert response.status_code == 400
    assert attempt_of(client) is None


def test_a_hung_directory_gives_a_clear_503_within_the_timeout(
    directory: SlapdServer, client: Client
) -> None:
    directory.freeze()
    try:
        started = time.monotonic()
        response = sign_in_password(client, "alice@example.com", pw("alice"))
        elapsed = time.monotonic() - started
    finally:
        directory.thaw()
    assert response.status_code == 503
    assert "The sign-in service cannot reach the directory" in text(response)
    assert elapsed < 4  # timeout = 1 s: the search, never a hang
    assert AuditEvent.objects.filter(action="directory.unavailable").exists()
    assert attempt_of(client) is None


def test_a_stopped_directory_does_not_let_an_old_password_in(
    directory: SlapdServer, client: Client, make_user: Any
) -> None:
    make_user("bob@example.com", "bob's old local password")
    directory.stop()
    response = sign_in_password(client, "bob@example.com", "bob's old local password")
    assert response.status_code == 503
    assert attempt_of(client) is None


def test_break_glass_admin_signs_in_while_the_directory_is_down(
    directory: SlapdServer, client: Client, make_user: Any
) -> None:
    make_user("root@example.org", "break-glass password 1", is_superuser=True, is_staff=True)
    directory.stop()
    response = sign_in_password(client, "root@example.org", "break-glass password 1")
    assert response.status_code == 302
    assert attempt_of(client) == User.objects.get(email="root@example.org")


def test_failover_to_the_second_url(configure: Any, slapd: SlapdServer) -> None:
    from tests.directory.conftest import openldap_table
    from tests.redis_server import free_port

    configure(openldap_table(slapd, urls=[f"ldap://127.0.0.1:{free_port()}", slapd.uri]))
    assert authenticate(None, username="alice", password=pw("alice")) is not None


def test_starttls_and_ldaps_with_the_configured_ca(
    configure: Any, slapd: SlapdServer, tls_files: Any
) -> None:
    from tests.directory.conftest import openldap_table

    ca = str(tls_files[2])
    configure(openldap_table(slapd, start_tls=True, ca_file=ca))
    assert authenticate(None, username="alice", password=pw("alice")) is not None
    configure(openldap_table(slapd, urls=[slapd.ldaps_uri], ca_file=ca))
    assert authenticate(None, username="bob", password=pw("bob")) is not None


def test_a_certificate_from_another_ca_is_refused(
    configure: Any, slapd: SlapdServer, client: Client, tmp_path: Any
) -> None:
    import trustme

    from tests.directory.conftest import openldap_table

    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    configure(openldap_table(slapd, urls=[slapd.ldaps_uri], ca_file=str(other)))
    # A man in the middle with his own certificate learns no password: 503, no bind.
    response = sign_in_password(client, "alice@example.com", pw("alice"))
    assert response.status_code == 503


def test_an_unreachable_directory_is_counted_in_metrics(
    settings: Any,
    configure: Any,
    slapd: SlapdServer,
    client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from tests.directory.conftest import openldap_table
    from tests.test_metrics import TOKEN, parse

    settings.VAHVA = {**settings.VAHVA, "METRICS_ENABLED": True, "METRICS_TOKEN": TOKEN}
    configure(openldap_table(slapd))
    key = ("vahva_signins_total", (("method", "password"), ("outcome", "directory_unavailable")))

    def count() -> float:
        page = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        return parse(page.content.decode()).get(key, 0.0)

    before = count()
    slapd.stop()
    with django_capture_on_commit_callbacks(execute=True):
        response = sign_in_password(client, "alice@example.com", pw("alice"))
    assert response.status_code == 503
    assert count() == before + 1


def test_every_name_of_a_person_counts_on_one_password_allowance(
    directory: SlapdServer, client: Client, clock: Any
) -> None:
    """Five wrong passwords, spread over the uid and the e-mail address, are five tries for
    the one person: the sixth is slowed down whichever name it uses."""
    sign_in_password(client, "alice", pw("alice"))  # links alice: her names are known
    other = Client()  # a browser that never signed in to her account (no device cookie)
    names = ("alice", "alice@example.com") * 3
    statuses = [sign_in_password(other, name, "wrong password").status_code for name in names]
    assert statuses == [400, 400, 400, 400, 400, 429]
