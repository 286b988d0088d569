"""Throttling: the pure schedule as a table, then the shared store with a moving clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from vahva.errors import Locked, RateLimited
from vahva.signin import throttle
from vahva.signin.throttle import Rule, is_locked, wait_seconds

RULE = Rule(free=3, base=1.0, cap=60.0, limit=10, forget=3600)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("failures", "since", "expected"),
    [
        (0, 0, 0.0),
        (2, 0, 0.0),  # within the free tries
        (3, 0, 1.0),  # first delay
        (4, 0, 2.0),
        (5, 0, 4.0),
        (5, 3, 1.0),  # part of the wait has passed
        (5, 4, 0.0),
        (9, 0, 60.0),  # capped
        (10_000, 0, 60.0),  # never overflows
        (9, 3600, 0.0),  # forgotten after an hour
    ],
)
def test_wait_schedule(failures: int, since: int, expected: float) -> None:
    now = T0 + dt.timedelta(seconds=since)
    assert wait_seconds(RULE, failures, T0, now) == pytest.approx(expected)


def test_lock_after_limit_until_forgotten() -> None:
    assert not is_locked(RULE, 9, T0, T0)
    assert is_locked(RULE, 10, T0, T0)
    assert not is_locked(RULE, 10, T0, T0 + dt.timedelta(hours=1))
    never = Rule(free=3, base=1.0, cap=60.0, limit=None, forget=None)
    assert not is_locked(never, 10**9, T0, T0)


@pytest.mark.django_db
def test_store_counts_waits_and_clears(clock: Any) -> None:
    keys = [("k:a", RULE)]
    for _ in range(3):
        throttle.check(keys, now=clock())
        throttle.fail(keys, now=clock())
    with pytest.raises(RateLimited) as caught:
        throttle.check(keys, now=clock())
    assert caught.value.retry_after == 1
    clock.advance(1)
    throttle.check(keys, now=clock())
    throttle.clear(["k:a"])
    assert throttle.failures_of("k:a") == 0


@pytest.mark.django_db
def test_store_locks_at_limit(clock: Any) -> None:
    keys = [("k:b", RULE)]
    for _ in range(10):
        throttle.fail(keys, now=clock())
        clock.advance(61)
    with pytest.raises(Locked):
        throttle.check(keys, now=clock())


@pytest.mark.django_db
def test_forgotten_failures_start_counting_afresh(clock: Any) -> None:
    keys = [("k:c", RULE)]
    for _ in range(5):
        throttle.fail(keys, now=clock())
    clock.advance(3600)
    throttle.fail(keys, now=clock())
    assert throttle.failures_of("k:c") == 1
