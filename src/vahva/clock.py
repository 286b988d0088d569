"""The one place vahva reads the time, so that tests can move it instead of sleeping."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_clock: Clock = system_clock


def now() -> dt.datetime:
    """The current time (timezone-aware UTC) from the installed clock."""
    return _clock()


def install(clock: Clock | None) -> None:
    """Replace the clock (tests); ``None`` restores the system clock."""
    global _clock
    _clock = clock or system_clock


class FakeClock:
    """A clock that stands still until told to move."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.current = start or dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += dt.timedelta(seconds=seconds)
