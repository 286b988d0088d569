"""The person's statements written once (vahva.prepared) read and write what the ORM did.

The password step reads the person by address once (the sign-in's throttle key and
ModelBackend's ``get_by_natural_key`` share the read), and a sign-in stores ``last_login``
with one UPDATE instead of Django's ``user.save(update_fields=...)``. Django's
``authenticate()`` contract is kept: the dummy hash for an unknown address, the
``user_login_failed`` signal, the ``is_active`` check, the hash upgrade. They run on SQLite
and, with ``python -m tests.postgres_server``, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import user_logged_in, user_login_failed
from django.contrib.auth.hashers import get_hasher
from django.db import connection
from django.db.models.signals import post_save, pre_save
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.helpers import PASSWORD, sign_in_password
from vahva.accounts.models import User, by_email
from vahva.audit.models import AuditEvent
from vahva.signin.models import SignInAttempt
from vahva.web.memo import request_memo

pytestmark = pytest.mark.django_db

#: A time with microseconds: the stored text must keep them as the ORM's does.
ODD = dt.timedelta(microseconds=123456)


def _stored(pk: Any, *, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """The person's row as the database holds it (no ORM converters), less ``leave_out``."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_user WHERE id = %s", [pk])
        names = [column[0] for column in cursor.description]
        (row,) = cursor.fetchall()
    return {name: value for name, value in zip(names, row, strict=True) if name not in leave_out}


def _fields(instance: Any) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def _person_reads(captured: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith("SELECT") and '"accounts_user"' in q["sql"]
    ]


# -- the person by address --------------------------------------------------------------------


def test_the_person_by_address_is_the_orms(make_user: Any, clock: Any) -> None:
    alice = make_user("alice@example.org", full_name="Älice Ö'Brien", language="fi")
    User.objects.filter(pk=alice.pk).update(last_login=clock() + ODD, session_epoch=3)
    make_user("bob@example.org")

    found = by_email("alice@example.org")
    assert found is not None
    assert _fields(found) == _fields(User.objects.get(email="alice@example.org"))
    assert not found._state.adding
    # Exactly the address, as the ORM's email= (the caller normalises): no other person.
    assert by_email("ALICE@example.org") is None
    assert by_email("nobody@example.org") is None
    # An address that looks like SQL stays a parameter.
    assert by_email("x' OR '1'='1") is None
    assert User.objects.count() == 2


def test_get_by_natural_key_finds_as_before(alice: Any) -> None:
    found = User.objects.get_by_natural_key("  Alice@Example.ORG ")
    assert _fields(found) == _fields(alice)
    with pytest.raises(User.DoesNotExist):
        User.objects.get_by_natural_key("nobody@example.org")
    with pytest.raises(User.DoesNotExist):
        User.objects.get_by_natural_key(None)


@pytest.mark.django_db(transaction=True)  # the memo keeps nothing read inside a transaction
def test_in_a_request_the_person_is_read_once_and_each_caller_gets_its_own(alice: Any) -> None:
    with request_memo(), CaptureQueriesContext(connection) as captured:
        first = by_email(alice.email)
        second = User.objects.get_by_natural_key(alice.email)
        assert first is not None
        assert first is not second
        first.full_name = "changed in memory"
        assert second.full_name == "Alice"
    assert len(captured.captured_queries) == 1
    with request_memo(), CaptureQueriesContext(connection) as captured:
        assert by_email(alice.email) is not None
        # A write to the people's table in the request: read again, never a stale person.
        User.objects.filter(pk=alice.pk).update(full_name="Alice Aalto")
        again = by_email(alice.email)
        assert again is not None
        assert again.full_name == "Alice Aalto"
    assert len(captured.captured_queries) == 3


# -- the password step: one read, Django's authenticate() contract kept ------------------------


def _counting(monkeypatch: Any) -> dict[str, int]:
    """How often the hasher verifies and encodes (the dummy hash of an unknown address)."""
    hasher = type(get_hasher())
    calls = {"verify": 0, "encode": 0}
    verify, encode = hasher.verify, hasher.encode

    def counted_verify(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["verify"] += 1
        return verify(self, *args, **kwargs)

    def counted_encode(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["encode"] += 1
        return encode(self, *args, **kwargs)

    monkeypatch.setattr(hasher, "verify", counted_verify)
    monkeypatch.setattr(hasher, "encode", counted_encode)
    return calls


@pytest.mark.django_db(transaction=True)  # the memo keeps nothing read inside a transaction
def test_a_right_password_reads_the_person_once(alice: Any, clock: Any) -> None:
    with CaptureQueriesContext(connection) as captured:
        answer = sign_in_password(Client())
    assert answer.status_code == 302
    # The throttle key's read and ModelBackend's were two statements.
    assert len(_person_reads(captured)) == 1


@pytest.mark.django_db(transaction=True)  # the memo keeps nothing read inside a transaction
def test_a_wrong_password_reads_the_person_once_and_is_still_logged(
    alice: Any, clock: Any, monkeypatch: Any
) -> None:
    calls = _counting(monkeypatch)
    failed: list[dict[str, Any]] = []

    def heard(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
        failed.append(credentials)

    user_login_failed.connect(heard)
    try:
        with CaptureQueriesContext(connection) as captured:
            answer = sign_in_password(Client(), password="wrong horse battery")
    finally:
        user_login_failed.disconnect(heard)
    assert answer.status_code == 400
    assert calls == {"verify": 1, "encode": 0}
    # Django's signal still says so (with the password hidden, as Django hides it).
    assert [c["username"] for c in failed] == [alice.email]
    assert failed[0]["password"] != "wrong horse battery"
    # The audit row names the person, from the same single read.
    assert len(_person_reads(captured)) == 1
    row = AuditEvent.objects.get(action="signin.password", outcome="failure")
    assert (row.subject_id, row.reason) == (alice.pk, "wrong password")


def test_an_unknown_address_still_costs_a_hash(db: Any, clock: Any, monkeypatch: Any) -> None:
    calls = _counting(monkeypatch)
    answer = sign_in_password(Client(), email="nobody@example.org")
    assert answer.status_code == 400
    # ModelBackend's dummy hash: an unknown address takes as long as a wrong password (no
    # enumeration by timing).
    assert calls == {"verify": 0, "encode": 1}
    row = AuditEvent.objects.get(action="signin.password", outcome="failure")
    assert (row.subject_id, row.reason) == (None, "unknown e-mail address")


def test_a_disabled_person_is_refused_with_the_right_password(alice: Any, clock: Any) -> None:
    User.objects.filter(pk=alice.pk).update(is_active=False)
    browser = Client()
    answer = sign_in_password(browser)
    assert answer.status_code == 400
    # ModelBackend's is_active check, on the person as the single read found them.
    assert "_auth_user_id" not in browser.session
    assert not SignInAttempt.objects.exists()


@pytest.mark.django_db(transaction=True)  # the memo keeps nothing read inside a transaction
def test_an_old_hash_is_still_upgraded_through_the_single_read(
    alice: Any, settings: Any, clock: Any
) -> None:
    settings.VAHVA = {**settings.VAHVA, "ARGON2_TIME_COST": 3}
    with CaptureQueriesContext(connection) as captured:
        assert sign_in_password(Client()).status_code == 302
    assert len(_person_reads(captured)) == 1
    alice.refresh_from_db()
    assert "m=19456,t=3,p=1" in alice.password
    assert alice.check_password(PASSWORD)


# -- last_login ------------------------------------------------------------------------------


def test_a_sign_in_stores_last_login_as_djangos_save_stored_it(
    alice: Any, make_user: Any, clock: Any
) -> None:
    bob = make_user("bob@example.org")
    clock.advance(ODD.total_seconds())
    untouched = _stored(alice.pk, leave_out=("last_login",))
    heard: list[tuple[str, Any]] = []

    def before(sender: Any, instance: Any, update_fields: Any, **kwargs: Any) -> None:
        heard.append(("pre", update_fields))

    def after(sender: Any, instance: Any, update_fields: Any, created: bool, **kwargs: Any) -> None:
        heard.append(("post", update_fields))

    pre_save.connect(before, sender=User)
    post_save.connect(after, sender=User)
    try:
        with CaptureQueriesContext(connection) as captured:
            user_logged_in.send(sender=User, request=None, user=alice)
    finally:
        pre_save.disconnect(before, sender=User)
        post_save.disconnect(after, sender=User)
    # One UPDATE (Django's own receiver is no longer connected: not two).
    updates = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    assert heard == [("pre", frozenset({"last_login"})), ("post", frozenset({"last_login"}))]
    assert alice.last_login == clock()
    # What user.save(update_fields=["last_login"]) stores, byte for byte.
    bob.last_login = clock()
    bob.save(update_fields=["last_login"])
    assert _stored(alice.pk)["last_login"] == _stored(bob.pk)["last_login"]
    assert User.objects.get(pk=alice.pk).last_login == clock()
    # Nothing else of the person's row moved.
    assert _stored(alice.pk, leave_out=("last_login",)) == untouched
