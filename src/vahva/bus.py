"""Wake whoever waits for a push's outcome: the event bus.

The database is the source of truth; the bus only says "look again". A waiter therefore
subscribes *before* it reads the database (an outcome published in between is queued, not
lost) and reads again when woken or after its timeout. Subscriptions are small objects with a
queue on an asyncio loop, not threads or database connections, so ten thousand waiting
sign-ins cost ten thousand small objects.

Keys are sign-in attempt ids (or enrolment ids for a test notification, ``device:<id>`` for a
device's open stream); outcomes are short strings ("approved", "denied", "challenge"...).
:class:`InProcessBus` serves one process; several nodes share one through Redis pub/sub with
the same methods (:mod:`vahva.authenticator.redis_bus`). A waiter treats every outcome as "look
again": a bus that may have missed publications (Redis reconnecting) wakes everyone with
``"resync"``.

A stream that began with a database read made in a request (the view's) asks the bus whether
anything was published for its key since that read (:meth:`EventBus.mark`,
:meth:`EventBus.changed_since`): if nothing was, the read is still the state and the stream
does not read it again. The bus remembers when each key was last published for
:data:`RECENT` seconds; for an older mark the answer is always "yes, look again".
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from typing import Protocol

#: Seconds a publication is remembered for :meth:`InProcessBus.changed_since`: far longer than
#: a view's read takes to become a waiting stream (the response's first bytes).
RECENT = 30.0


class Subscription(Protocol):
    async def next(self, timeout: float) -> str | None:
        """The next outcome published for the key (queued since subscribing), or None after
        ``timeout`` seconds."""

    def close(self) -> None:
        """Stop listening (idempotent)."""


class EventBus(Protocol):
    def publish(self, key: str, outcome: str) -> None:
        """Tell every subscriber of ``key`` (in any thread or, with Redis, any node) that
        ``outcome`` happened."""

    def subscribe(self, key: str) -> Subscription:
        """Start listening to ``key`` now, on the running event loop."""

    async def wait(self, key: str, timeout: float) -> str | None:
        """The next outcome published for ``key``, or None after ``timeout`` seconds."""

    def mark(self) -> float:
        """A point in time (this process's), taken just before reading the database."""

    def changed_since(self, key: str, mark: float) -> bool:
        """Whether anything may have been published for ``key`` since ``mark``; True when the
        bus cannot tell. Asked after :meth:`subscribe`: what comes later is queued."""


class LocalSubscription:
    """One listener: outcomes land in a queue on the listener's own loop."""

    def __init__(self, hub: InProcessBus, key: str, loop: asyncio.AbstractEventLoop) -> None:
        self.hub = hub
        self.key = key
        self.loop = loop
        self.queue: asyncio.Queue[str] = asyncio.Queue()

    def deliver(self, outcome: str) -> None:
        if _running_loop() is self.loop:
            # On the listener's own loop (a Redis publication fanned out): no wake-up needed.
            self.queue.put_nowait(outcome)
            return
        # From any thread: the queue belongs to its loop. A closed loop took its listener away.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.queue.put_nowait, outcome)

    async def next(self, timeout: float) -> str | None:
        try:
            return await asyncio.wait_for(self.queue.get(), max(0.0, timeout))
        except TimeoutError:
            return None

    def close(self) -> None:
        self.hub.unsubscribe(self)


class InProcessBus:
    """One process's listeners. ``publish`` may be called from a worker thread (a sync view
    under ASGI) while listeners wait on an event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[str, set[LocalSubscription]] = {}
        #: key -> when it was last published (time.monotonic), oldest first; RECENT seconds.
        self._recent: dict[str, float] = {}
        self._resynced = -math.inf

    def publish(self, key: str, outcome: str) -> None:
        now = time.monotonic()
        with self._lock:
            # Noted under the same lock as the listeners are read: a stream that subscribes
            # after this either sees the note (changed_since) or gets the delivery.
            self._recent.pop(key, None)
            self._recent[key] = now
            self._forget(now)
            listeners = list(self._listeners.get(key, ()))
        for listener in listeners:
            listener.deliver(outcome)

    def publish_all(self, outcome: str) -> None:
        """Wake every listener, whatever its key (a bus that may have missed publications
        sends "look again")."""
        with self._lock:
            self._resynced = time.monotonic()
            listeners = [one for some in self._listeners.values() for one in some]
        for listener in listeners:
            listener.deliver(outcome)

    def mark(self) -> float:
        return time.monotonic()

    def changed_since(self, key: str, mark: float) -> bool:
        now = time.monotonic()
        if mark <= now - RECENT:
            return True  # older than what is remembered: cannot tell
        with self._lock:
            return self._recent.get(key, -math.inf) >= mark or self._resynced >= mark

    def _forget(self, now: float) -> None:
        """Drop the notes older than RECENT (under the lock): the oldest are first."""
        recent = self._recent
        while recent:
            key = next(iter(recent))
            if recent[key] > now - RECENT:
                return
            del recent[key]

    def subscribe(self, key: str) -> LocalSubscription:
        listener = LocalSubscription(self, key, asyncio.get_running_loop())
        with self._lock:
            self._listeners.setdefault(key, set()).add(listener)
        return listener

    def unsubscribe(self, listener: LocalSubscription) -> None:
        with self._lock:
            listeners = self._listeners.get(listener.key)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[listener.key]

    async def wait(self, key: str, timeout: float) -> str | None:
        listener = self.subscribe(key)
        try:
            return await listener.next(timeout)
        finally:
            listener.close()

    def waiting(self) -> int:
        """How many listeners are subscribed (for tests and metrics)."""
        with self._lock:
            return sum(len(listeners) for listeners in self._listeners.values())


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_bus: EventBus = InProcessBus()


def get() -> EventBus:
    return _bus


def install(bus: EventBus | None) -> None:
    """Replace the bus (tests, Redis); ``None`` restores a fresh in-process bus."""
    global _bus
    _bus = bus or InProcessBus()
