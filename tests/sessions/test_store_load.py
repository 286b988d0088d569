"""A session is loaded with one prepared SELECT: what it loads, and what it refuses."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from vahva.sessions.store import SessionStore

pytestmark = pytest.mark.django_db


def test_a_stored_session_loads_in_one_statement() -> None:
    session = SessionStore()
    session["vahva_attempt"] = "a1"
    session.save()
    with CaptureQueriesContext(connection) as captured:
        loaded = SessionStore(session.session_key)
        assert loaded["vahva_attempt"] == "a1"
    assert len(captured.captured_queries) == 1


def test_a_key_the_browser_made_up_is_never_adopted() -> None:
    # Session fixation: an attacker plants a well-formed key that has no row.
    planted = "a" * 32
    session = SessionStore(planted)
    assert session.load() == {}
    session["user"] = "alice"
    session.save()
    assert session.session_key != planted
    assert not Session.objects.filter(session_key=planted).exists()


def test_an_expired_session_loads_empty_and_is_not_written_under_its_key() -> None:
    session = SessionStore()
    session["user"] = "alice"
    session.save()
    old = session.session_key
    Session.objects.filter(session_key=old).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )
    again = SessionStore(old)
    assert again.load() == {}
    again["user"] = "mallory"
    again.save()
    assert again.session_key != old


def test_tampered_data_loads_empty() -> None:
    session = SessionStore()
    session["user"] = "alice"
    session.save()
    Session.objects.filter(session_key=session.session_key).update(
        session_data="eyJ1c2VyIjoibWFsbG9yeSJ9:forged:signature"
    )
    assert SessionStore(session.session_key).load() == {}
