"""Throttling: the pure schedule as a table, then the shared store with a moving clock."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest

from tests.signin.parallel import at_once, needs_shared_database
from vahva.errors import Locked, RateLimited
from vahva.signin import throttle
from vahva.signin.throttle import Rule, Throttle, is_locked, wait_seconds

RULE = Rule(free=3, base=1.0, cap=60.0, limit=10, forget=3600)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
#: The ``clock`` fixture's start.
T0_CLOCK = dt.datetime(2026, 3, 2, 8, 0, 0, tzinfo=dt.UTC)


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
def test_a_reservation_counts_the_try_before_it_is_checked(clock: Any) -> None:
    keys = [("k:a", RULE)]
    for _ in range(3):
        throttle.reserve(keys, now=clock())  # three wrong guesses: kept
    assert throttle.failures_of("k:a") == 3
    with pytest.raises(RateLimited) as caught:
        throttle.reserve(keys, now=clock())
    assert caught.value.retry_after == 1
    # A refused try counts nothing.
    assert throttle.failures_of("k:a") == 3
    clock.advance(1)
    throttle.reserve(keys, now=clock()).refund(clear=["k:a"])  # right: the count ends
    assert throttle.failures_of("k:a") == 0
    assert not Throttle.objects.exists()


@pytest.mark.django_db
def test_a_refund_gives_back_exactly_the_one_try(clock: Any) -> None:
    ip, account = ("k:ip", RULE), ("k:acct", RULE)
    throttle.reserve([ip, account], now=clock())
    clock.advance(5)
    right = throttle.reserve([ip, account], now=clock())
    assert right.failures("k:ip") == right.failures("k:acct") == 2
    right.refund()
    # As before the try: one failure, still dated from the first one.
    row = Throttle.objects.get(key="k:ip")
    assert (row.failures, row.last_failure_at) == (1, T0_CLOCK)
    # A key the try created is gone again (input that was no guess leaves no row).
    throttle.reserve([("k:new", RULE)], now=clock()).refund()
    assert not Throttle.objects.filter(key="k:new").exists()


@pytest.mark.django_db
def test_a_refund_after_other_tries_takes_back_only_its_own(clock: Any) -> None:
    keys = [("k:d", RULE)]
    mine = throttle.reserve(keys, now=clock())
    throttle.reserve(keys, now=clock())  # a parallel wrong guess, counted after mine
    mine.refund()
    assert throttle.failures_of("k:d") == 1


@pytest.mark.django_db
def test_store_locks_at_limit(clock: Any) -> None:
    keys = [("k:b", RULE)]
    for _ in range(10):
        throttle.reserve(keys, now=clock())
        clock.advance(61)
    with pytest.raises(Locked):
        throttle.reserve(keys, now=clock())
    assert throttle.failures_of("k:b") == 10
    state = throttle.state_of("k:b", RULE, now=clock())
    assert (state.failures, state.locked) == (10, True)


@pytest.mark.django_db
def test_a_locked_key_refuses_whatever_the_other_keys_allow(clock: Any) -> None:
    free = Rule(free=100, base=1.0, cap=1.0, limit=None, forget=None)
    for _ in range(10):
        throttle.fail([("k:locked", RULE)], now=clock())
    with pytest.raises(Locked):
        throttle.reserve([("k:open", free), ("k:locked", RULE)], now=clock())
    # Nothing was counted on the open key either.
    assert throttle.failures_of("k:open") == 0


@pytest.mark.django_db
def test_forgotten_failures_start_counting_afresh(clock: Any) -> None:
    keys = [("k:c", RULE)]
    for _ in range(5):
        throttle.fail(keys, now=clock())
    clock.advance(3600)
    assert throttle.state_of("k:c", RULE, now=clock()).wait == 0
    throttle.reserve(keys, now=clock())
    assert throttle.failures_of("k:c") == 1


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_reservations_get_exactly_the_allowance(clock: Any) -> None:
    needs_shared_database()
    back_off = Rule(free=10, base=1.0, cap=60.0, limit=None, forget=None)
    other = Rule(free=1000, base=1.0, cap=1.0, limit=None, forget=None)

    def take(_n: int) -> str:
        try:
            throttle.reserve([("k:ip", other), ("k:slow", back_off)], now=clock())
        except RateLimited:
            return "wait"
        return "checked"

    assert Counter(at_once(50, take)) == {"checked": 10, "wait": 40}
    # Both keys counted the same ten tries; the refused ones counted on neither.
    assert throttle.failures_of("k:slow") == throttle.failures_of("k:ip") == 10


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_reservations_stop_at_exactly_the_limit(clock: Any) -> None:
    needs_shared_database()
    lock = Rule(free=1000, base=1.0, cap=1.0, limit=30, forget=None)

    def take(_n: int) -> str:
        try:
            throttle.reserve([("k:lock", lock)], now=clock())
        except Locked:
            return "locked"
        return "checked"

    assert Counter(at_once(50, take)) == {"checked": 30, "locked": 20}
    assert throttle.failures_of("k:lock") == 30
