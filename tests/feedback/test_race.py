"""The hourly feedback limit is reserve-first: 50 parallel posts from one address, each
request in its own thread with its own database connection, save exactly the hourly share."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.test import Client

from tests.signin.parallel import at_once, needs_shared_database
from vahva.feedback.models import Feedback

pytestmark = pytest.mark.django_db(transaction=True)

BURST = 50


def _post(ip: str) -> int:
    response = Client().post(
        "/help/feedback/", {"feedback-message": "The code step was confusing."}, REMOTE_ADDR=ip
    )
    return int(response.status_code)


def test_fifty_parallel_posts_save_only_the_hourly_share(clock: Any, settings: Any) -> None:
    needs_shared_database()
    settings.VAHVA = {**settings.VAHVA, "FEEDBACK_PER_HOUR": 5}

    statuses = Counter(at_once(BURST, lambda _n: _post("198.51.100.7")))
    assert statuses == {302: 5, 429: BURST - 5}
    assert Feedback.objects.count() == 5
    # Another address has its own share, even right after the burst.
    assert _post("198.51.100.8") == 302


def test_a_first_burst_from_a_new_address_counts_too(clock: Any, settings: Any) -> None:
    """No row for the address yet: the parallel posts create its limiter row together, and
    still only the hourly share gets in."""
    needs_shared_database()
    settings.VAHVA = {**settings.VAHVA, "FEEDBACK_PER_HOUR": 1}
    statuses = Counter(at_once(20, lambda _n: _post("2001:db8:7::1")))
    assert statuses == {302: 1, 429: 19}
    assert Feedback.objects.count() == 1
