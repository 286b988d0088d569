"""Signing in moves the session row to a new key in one UPDATE: the old key (a planted or
stolen pre-sign-in cookie) finds nothing afterwards, and the signed-in state is never written
under it."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session

from vahva.sessions.store import SessionStore

pytestmark = pytest.mark.django_db


def stored() -> SessionStore:
    session = SessionStore()
    session["attempt"] = "before signing in"
    session.save()
    assert session.session_key
    return session


def test_cycle_moves_the_row_to_a_new_key() -> None:
    session = stored()
    planted = session.session_key
    session.cycle_key()
    session["user"] = "alice"
    session.save()
    assert session.session_key not in (None, planted)
    # Session fixation: the old key loads an empty session, and its row is gone.
    assert SessionStore(planted).load() == {}
    assert not Session.objects.filter(session_key=planted).exists()
    again = SessionStore(session.session_key)
    assert again.load() == {"attempt": "before signing in", "user": "alice"}
    assert Session.objects.count() == 1


def test_cycle_after_the_old_row_is_gone_writes_a_new_one() -> None:
    session = stored()
    planted = session.session_key
    SessionStore(planted).delete()  # signed out from another browser meanwhile
    session.cycle_key()
    session["user"] = "alice"
    session.save()
    assert session.session_key not in (None, planted)
    assert SessionStore(session.session_key).load()["user"] == "alice"
    assert not Session.objects.filter(session_key=planted).exists()


def test_signing_out_in_the_same_request_deletes_the_old_row() -> None:
    session = stored()
    planted = session.session_key
    session.cycle_key()
    session.flush()
    assert not Session.objects.filter(session_key=planted).exists()
    assert SessionStore(planted).load() == {}


def test_a_concurrent_write_under_the_old_key_after_the_move_is_refused() -> None:
    from django.contrib.sessions.backends.base import UpdateError

    session = stored()
    planted = session.session_key
    attacker = SessionStore(planted)
    assert attacker["attempt"] == "before signing in"  # a request under the old key, loaded
    session.cycle_key()
    session["user"] = "alice"
    session.save()
    attacker["user"] = "mallory"
    with pytest.raises(UpdateError):
        attacker.save()
    assert not Session.objects.filter(session_key=planted).exists()
    assert SessionStore(session.session_key).load()["user"] == "alice"
