"""Idle timeout and absolute lifetime (NIST SP 800-63B AAL2): the clock moves, nobody sleeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, override_settings

from tests.helpers import text
from vahva.audit.models import AuditEvent
from vahva.conf import DEFAULTS
from vahva.sessions.models import BrowserSession

pytestmark = pytest.mark.django_db

MINUTE = 60


def signed_in(client: Client) -> bool:
    response = client.get("/security-info/")
    return response.status_code == 200


def test_defaults_are_thirty_minutes_and_twelve_hours() -> None:
    assert DEFAULTS["SESSION_IDLE_TIMEOUT"] == 30 * MINUTE
    assert DEFAULTS["SESSION_MAX_AGE"] == 12 * 3600


def test_idle_for_thirty_minutes_signs_out_and_says_why(
    new_browser: Callable[..., Client], alice: Any, clock: Any
) -> None:
    client = new_browser()
    clock.advance(29 * MINUTE)
    assert signed_in(client)
    clock.advance(29 * MINUTE)  # 58 minutes after the sign-in, but active 29 minutes ago
    assert signed_in(client)

    clock.advance(30 * MINUTE)
    response = client.get("/security-info/")
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/?next=")
    page = text(client.get(response["Location"]))
    assert "You were signed out after 30 minutes without activity." in page
    event = AuditEvent.objects.get(action="session.expired")
    assert event.subject_id == alice.pk
    assert event.reason == "session expired: idle"
    assert not BrowserSession.objects.exists()
    # Gone for good: the session was flushed, not just this one answer.
    assert not signed_in(client)


def test_activity_never_extends_the_absolute_lifetime(
    new_browser: Callable[..., Client], clock: Any
) -> None:
    client = new_browser()
    for _ in range(36):  # a page every 20 minutes, the last at 11 h 40 min
        assert signed_in(client)
        clock.advance(20 * MINUTE)
    assert signed_in(client) is False
    page = text(client.get("/signin/"))
    assert "You were signed out because you signed in 12 hours ago." in page
    assert AuditEvent.objects.get(action="session.expired").reason == (
        "session expired: absolute lifetime"
    )


def test_a_waiting_page_s_polls_are_not_activity(
    new_browser: Callable[..., Client], clock: Any
) -> None:
    """A tab left open on a waiting page would otherwise keep its session alive forever."""
    client = new_browser()
    for _ in range(7):
        clock.advance(5 * MINUTE)
        client.get("/signin/verify/status/")
        client.get("/security-info/add/totp/status/")
    assert not signed_in(client)  # 35 minutes without a page of her own
    assert AuditEvent.objects.get(action="session.expired").reason == "session expired: idle"


def test_a_poll_after_the_timeout_signs_out_too(
    new_browser: Callable[..., Client], clock: Any
) -> None:
    client = new_browser()
    clock.advance(31 * MINUTE)
    client.get("/signin/verify/status/")
    assert AuditEvent.objects.filter(action="session.expired").count() == 1
    assert not BrowserSession.objects.exists()


def test_last_seen_is_written_at_most_once_a_minute(
    new_browser: Callable[..., Client], clock: Any
) -> None:
    client = new_browser()
    row = BrowserSession.objects.get()
    start = row.last_seen_at
    clock.advance(20)
    assert signed_in(client)
    clock.advance(20)
    assert signed_in(client)
    row.refresh_from_db()
    assert row.last_seen_at == start
    clock.advance(30)
    assert signed_in(client)
    row.refresh_from_db()
    assert row.last_seen_at == clock()
    assert row.signed_in_at == start  # the sign-in time never moves


def test_both_limits_are_settings(new_browser: Callable[..., Client], clock: Any) -> None:
    with override_settings(VAHVA={**_vahva(), "SESSION_IDLE_TIMEOUT": 5 * MINUTE}):
        client = new_browser()
        clock.advance(6 * MINUTE)
        assert not signed_in(client)
        assert "after 5 minutes without activity" in text(client.get("/signin/"))
    with override_settings(VAHVA={**_vahva(), "SESSION_MAX_AGE": 2 * 3600}):
        client = new_browser()
        for _ in range(4):
            clock.advance(25 * MINUTE)
            assert signed_in(client)
        clock.advance(25 * MINUTE)
        assert not signed_in(client)  # 2 h 5 min
        assert "because you signed in 2 hours ago" in text(client.get("/signin/"))


def test_a_session_from_before_tracking_is_adopted_not_dropped(
    alice: Any, clock: Any, client: Client
) -> None:
    client.force_login(alice)
    BrowserSession.objects.all().delete()
    session = client.session
    del session["vahva_sid"]
    session.save()
    assert signed_in(client)
    assert BrowserSession.objects.filter(user=alice).count() == 1
    clock.advance(31 * MINUTE)
    assert not signed_in(client)


def _vahva() -> dict[str, Any]:
    from django.conf import settings

    return dict(settings.VAHVA)


def test_rows_of_long_gone_browsers_are_forgotten_at_the_next_sign_in(
    new_browser: Callable[..., Client], clock: Any
) -> None:
    abandoned = new_browser()
    gone = BrowserSession.objects.get().pk
    clock.advance(13 * 3600)
    new_browser()
    # Kept a while: if the abandoned browser comes back, it is told why it was signed out.
    assert BrowserSession.objects.filter(pk=gone).exists()
    clock.advance(12 * 3600)
    new_browser()
    assert not BrowserSession.objects.filter(pk=gone).exists()
    assert BrowserSession.objects.count() == 2
    assert signed_in(abandoned) is False
