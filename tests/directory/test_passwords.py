"""A directory person's password is changed in the directory (RFC 3062), never kept here."""

from __future__ import annotations

import re
from typing import Any

import ldap
import pytest
from django.contrib.auth import authenticate
from django.core import mail
from django.test import Client

from tests.directory.conftest import openldap_table
from tests.helpers import code_for, force_mfa_login, text
from tests.slapd_server import USERS, SlapdServer
from vahva.registration import passwords

pytestmark = pytest.mark.django_db

NEW = "Quartz Meadow Falcon 77"


def binds(slapd: SlapdServer, uid: str, password: str) -> bool:
    conn = ldap.initialize(slapd.uri)
    try:
        conn.simple_bind_s(slapd.user_dn(uid), password)
    except ldap.INVALID_CREDENTIALS:
        return False
    conn.unbind_s()
    return True


def test_change_writes_the_new_password_to_the_directory(
    configure: Any, slapd: SlapdServer, client: Client, clock: Any
) -> None:
    configure(openldap_table(slapd, password_change=True))
    alice = authenticate(None, username="alice", password=USERS["alice"][0])
    assert alice is not None
    force_mfa_login(client, alice)
    response = client.post(
        "/security-info/password/",
        {"current": USERS["alice"][0], "new": NEW, "again": NEW},
    )
    assert response.status_code == 302
    assert binds(slapd, "alice", NEW)
    assert not binds(slapd, "alice", USERS["alice"][0])
    alice.refresh_from_db()
    assert not alice.has_usable_password()
    # And sign-in by bind takes the new one.
    assert authenticate(None, username="alice", password=NEW) is not None


def test_reset_writes_to_the_directory(
    configure: Any, slapd: SlapdServer, client: Client, clock: Any
) -> None:
    from vahva.methods import service
    from vahva.methods.totp import generate_secret

    configure(openldap_table(slapd, password_change=True))
    bob = authenticate(None, username="bob", password=USERS["bob"][0])
    assert bob is not None
    secret = generate_secret()
    service.save_new(bob, "totp", now=clock(), secret=secret)
    client.post("/password/forgot/", {"email": "bob@example.com"})
    passwords.wait_for_mail()
    (message,) = mail.outbox
    link = re.search(r"/password/reset/\S+/", message.body)
    assert link is not None
    client.get(link.group(0))
    assert client.post("/password/reset/", {"code": code_for(secret, clock)}).status_code == 302
    done = client.post("/password/reset/", {"new": NEW, "again": NEW}, follow=True)
    assert "Your new password is saved" in text(done)
    assert binds(slapd, "bob", NEW)


def test_without_password_change_the_page_links_to_the_organisations_own(
    configure: Any, slapd: SlapdServer, client: Client
) -> None:
    url = "https://password.example.com/change"
    configure(openldap_table(slapd, password_change_url=url))
    alice = authenticate(None, username="alice", password=USERS["alice"][0])
    assert alice is not None
    force_mfa_login(client, alice)
    page = client.get("/security-info/password/")
    assert f'href="{url}"' in text(page)
    refused = client.post(
        "/security-info/password/",
        {"current": USERS["alice"][0], "new": NEW, "again": NEW},
    )
    assert refused.status_code == 200
    assert binds(slapd, "alice", USERS["alice"][0])


def test_active_directory_unicode_pwd_change_and_reset(
    configure: Any, slapd: SlapdServer, client: Client, clock: Any
) -> None:
    """AD's way (MS-ADTS 3.1.1.3.1.5): a change deletes the old value and adds the new one in
    one modify, as the person (so the old value must be right); a reset replaces it."""
    from tests.directory.conftest import ad_table
    from tests.slapd_server import unicode_pwd
    from vahva.directory.config import PasswordModify, parse
    from vahva.directory.passwords import DirectoryRefused, set_password

    def stored(uid: str) -> bytes:
        conn = slapd.admin()
        ((_dn, attrs),) = conn.search_s(
            slapd.user_dn(uid), ldap.SCOPE_BASE, attrlist=["unicodePwd"]
        )
        conn.unbind_s()
        return bytes(attrs["unicodePwd"][0])

    config = parse(ad_table(slapd, password_change=True, password_modify="ad"))
    assert config.password_modify is PasswordModify.AD
    alice_dn = slapd.user_dn("alice")
    set_password(config, dn=alice_dn, new=NEW, old=USERS["alice"][0])
    assert stored("alice") == unicode_pwd(NEW)
    # The delete names the old value: one that is not the stored one fails the whole modify
    # (here slapd's bind still takes the first password, userPassword; unicodePwd moved on).
    with pytest.raises(DirectoryRefused):
        set_password(config, dn=alice_dn, new="Other Value 123", old=USERS["alice"][0])
    assert stored("alice") == unicode_pwd(NEW)
    set_password(config, dn=slapd.user_dn("bob"), new=NEW, old=None)
    assert stored("bob") == unicode_pwd(NEW)
