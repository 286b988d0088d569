"""The rows of long-gone browsers are forgotten by a sign-in at most once per 10 minutes per
process (issue 20: it was one DELETE at every sign-in), and everyone's, not only the person's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from vahva.sessions import service
from vahva.sessions.models import BrowserSession

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that has not forgotten anything yet."""
    monkeypatch.setattr(service, "_forgotten_at", [])


def _left_behind(user: Any, *, signed_in_at: dt.datetime, digest: str) -> int:
    """A browser closed without signing out, signed in at ``signed_in_at``."""
    row = BrowserSession.objects.create(
        digest=digest,
        user=user,
        label="Firefox",
        signed_in_at=signed_in_at,
        last_seen_at=signed_in_at,
    )
    return int(row.pk)


def test_long_gone_rows_are_forgotten_at_most_once_per_ten_minutes(
    fresh_process: None, new_browser: Callable[..., Client], make_user: Any, clock: Any
) -> None:
    bob = make_user("bob@example.org")
    gone = _left_behind(bob, signed_in_at=clock() - 2 * DAY, digest="a" * 64)
    recent = _left_behind(bob, signed_in_at=clock() - dt.timedelta(hours=20), digest="b" * 64)
    new_browser()
    # Bob's browser of two days ago is forgotten at Alice's sign-in; the one of 20 hours ago
    # is kept (if it comes back, it is told why it was signed out).
    assert not BrowserSession.objects.filter(pk=gone).exists()
    assert BrowserSession.objects.filter(pk=recent).exists()
    # Another long-gone row: the next sign-ins within 10 minutes leave it for later.
    later = _left_behind(bob, signed_in_at=clock() - 3 * DAY, digest="c" * 64)
    clock.advance(9 * 60)
    new_browser()
    assert BrowserSession.objects.filter(pk=later).exists()
    clock.advance(60)
    new_browser()
    assert not BrowserSession.objects.filter(pk=later).exists()
    # Every browser that signed in is still signed in: three rows of Alice's, Bob's recent.
    assert BrowserSession.objects.count() == 4
