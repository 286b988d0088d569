"""Wake whoever waits for a push's outcome: an in-process event bus.

The database is the source of truth; the bus only says "look again". A waiter therefore reads
the database after registering (an outcome published just before is not lost) and again after
waking, or after its timeout. Waits are asyncio futures, not threads or database connections,
so ten thousand waiting sign-ins cost ten thousand small objects.

Keys are sign-in attempt ids (or enrolment ids for a test notification); outcomes are the
challenge's state ("approved", "denied", ...). Several nodes will share a Redis pub/sub bus with
the same two methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Protocol


class EventBus(Protocol):
    def publish(self, key: str, outcome: str) -> None:
        """Tell every waiter on ``key`` (in any thread) that ``outcome`` happened."""

    async def wait(self, key: str, timeout: float) -> str | None:
        """The next outcome published for ``key``, or None after ``timeout`` seconds."""


def _resolve(future: asyncio.Future[str], outcome: str) -> None:
    if not future.done():
        future.set_result(outcome)


class InProcessBus:
    """One process's waiters. ``publish`` may be called from a worker thread (a sync view under
    ASGI) while ``wait`` runs on an event loop: futures are resolved on their own loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Future[str]]]] = {}

    def publish(self, key: str, outcome: str) -> None:
        with self._lock:
            waiters = self._waiters.pop(key, set())
        for loop, future in waiters:
            # A closed loop raises RuntimeError; its waiter is gone with it.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, future, outcome)

    async def wait(self, key: str, timeout: float) -> str | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        entry = (loop, future)
        with self._lock:
            self._waiters.setdefault(key, set()).add(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            with self._lock:
                waiting = self._waiters.get(key)
                if waiting is not None:
                    waiting.discard(entry)
                    if not waiting:
                        del self._waiters[key]

    def waiting(self) -> int:
        """How many waits are registered (for tests and metrics)."""
        with self._lock:
            return sum(len(entries) for entries in self._waiters.values())


_bus: EventBus = InProcessBus()


def get() -> EventBus:
    return _bus


def install(bus: EventBus | None) -> None:
    """Replace the bus (tests, Redis); ``None`` restores a fresh in-process bus."""
    global _bus
    _bus = bus or InProcessBus()
