"""The event bus across app nodes: Redis pub/sub.

Every node publishes ``PUBLISH vahva:bus:<key> "<node> <outcome>"`` and listens with **one**
``PSUBSCRIBE vahva:bus:*`` connection per process, whatever the number of waiters; what it
hears goes to the waiters of that process through an :class:`~vahva.bus.
InProcessBus`. One pattern rather than a ``SUBSCRIBE`` per key: :meth:`RedisBus.subscribe`
must be synchronous and must not miss what is published right after it returns, and a
per-key subscription is only in force once Redis has confirmed it (a round trip per waiting
sign-in, twice with the unsubscribe). With one pattern the node is subscribed to every key
before any waiter asks, and Redis matches a publication against one pattern per node.
Every node then hears every outcome; they are a few dozen bytes each.

The database stays the source of truth, so Redis is allowed to fail:

- :meth:`RedisBus.publish` wakes the waiters of its own node directly, then publishes with
  short timeouts; a Redis error is logged, never raised into the sign-in that published.
  Waiters elsewhere look at the database again at their own deadline, and the page polls.
- The listener reconnects with exponential backoff. While it is away the node degrades to
  polling: every :data:`POLL_INTERVAL` seconds each waiter of the process is woken with
  :data:`RESYNC` and looks at the database again (as the waiting page itself polls when its
  stream fails), so people keep signing in, a second or two slower.
- An outage is noticed at once when Redis closes the connection; a Redis that stops answering
  (frozen, or a network that drops packets) is noticed by a ping after
  :data:`HEALTH_INTERVAL` seconds of silence that gets no answer within
  :data:`PING_TIMEOUT`.
- Publications made while the listener was not subscribed (before its first connection, or
  during an outage) are lost, so when the pattern subscription is (re)confirmed every waiter
  of the process is woken with :data:`RESYNC`: "look at the database again", and the polling
  stops.

The listener starts lazily, on the event loop of the first subscriber (the ASGI server's
loop), so management commands that only publish never open it; the publishing connection
is opened on the first publication.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from typing import Any
from urllib.parse import urlsplit

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from vahva.bus import InProcessBus, LocalSubscription

log = logging.getLogger(__name__)

#: The outcome a waiter is woken with when publications may have been missed.
RESYNC = "resync"
PREFIX = "vahva:bus:"
#: Seconds a publication may take; a sign-in must not hang on an unreachable Redis.
PUBLISH_TIMEOUT = 0.5
#: The listener's silence, in seconds, after which it pings; with no answer to the ping (or
#: to a new subscription) within PING_TIMEOUT the connection is taken for dead: a peer that
#: vanished without a FIN, or a frozen Redis, never makes a read fail.
HEALTH_INTERVAL = 5.0
PING_TIMEOUT = 3.0
#: While the listener is away, every waiter of the process looks at the database this often
#: (the waiting page's own polling interval).
POLL_INTERVAL = 2.0
#: Seconds closing a connection may take (a half-closed socket must not hang a shutdown).
CLOSE_TIMEOUT = 2.0
#: Reconnection delays: doubled after each failure, from the first to the last.
BACKOFF = (0.1, 5.0)


def describe(url: str) -> str:
    """Where ``url`` points, without its password (for log lines and errors)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


class RedisBus:
    """An :class:`~vahva.bus.EventBus` shared by the nodes using one Redis."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = PREFIX,
        publish_timeout: float = PUBLISH_TIMEOUT,
        health_interval: float = HEALTH_INTERVAL,
        ping_timeout: float = PING_TIMEOUT,
        poll_interval: float = POLL_INTERVAL,
        backoff: tuple[float, float] = BACKOFF,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.health_interval = health_interval
        self.ping_timeout = ping_timeout
        self.poll_interval = poll_interval
        self.backoff = backoff
        #: Our own publications come back from Redis; they were delivered here already.
        self.node = uuid.uuid4().hex
        self._local = InProcessBus()
        # Connected on first use. One retry without delay: a pooled connection that Redis
        # closed (a restart) fails once and is replaced; a Redis that is down is not waited
        # for twice over.
        self._publisher = redis.Redis.from_url(
            url,
            socket_timeout=publish_timeout,
            socket_connect_timeout=publish_timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribed: asyncio.Event | None = None

    # -- EventBus ---------------------------------------------------------------------------

    def publish(self, key: str, outcome: str) -> None:
        """Wake this node's waiters, then the other nodes' through Redis. A blocking call of
        at most about twice ``publish_timeout``: made from sync code (after a commit), never
        on the event loop."""
        self._local.publish(key, outcome)
        try:
            self._publisher.publish(self.prefix + key, f"{self.node} {outcome}")
        except (redis.RedisError, OSError) as exc:
            # The outcome is committed; other nodes' waiters find it at their deadline.
            log.warning(
                "event bus: could not publish %s to %s: %s", outcome, describe(self.url), exc
            )

    def subscribe(self, key: str) -> LocalSubscription:
        listener = self._local.subscribe(key)
        self._ensure_listening()
        return listener

    async def wait(self, key: str, timeout: float) -> str | None:
        listener = self.subscribe(key)
        try:
            return await listener.next(timeout)
        finally:
            listener.close()

    def mark(self) -> float:
        return self._local.mark()

    def changed_since(self, key: str, mark: float) -> bool:
        """What this node has heard since ``mark`` (its own publications and other nodes').
        An outcome committed on another node is heard here only after its commit: one
        committed after the read that followed ``mark`` is heard after ``mark``, so it is
        noted here (or queued for the subscriber). While the listener is not subscribed
        (starting, or Redis away) publications are lost, so the answer is True."""
        subscribed = self._subscribed
        if subscribed is None or not subscribed.is_set():
            return True
        return self._local.changed_since(key, mark)

    # -- for tests, metrics and shutdown ----------------------------------------------------

    def waiting(self) -> int:
        """How many listeners of this process are subscribed."""
        return self._local.waiting()

    async def connected(self, timeout: float) -> bool:
        """Start listening (on the running loop) if need be, and wait at most ``timeout``
        seconds for the pattern subscription to be in force."""
        self._ensure_listening()
        subscribed = self._subscribed
        assert subscribed is not None
        if self._loop is not asyncio.get_running_loop():
            raise RuntimeError("the bus listens on another event loop")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(subscribed.wait(), timeout)
        return subscribed.is_set()

    def close(self) -> None:
        """Close the publishing connection (reopened by the next publication)."""
        self._publisher.close()

    async def aclose(self) -> None:
        """Stop listening and close the connections."""
        with self._lock:
            task, self._task = self._task, None
        if task is not None and not task.done():
            owner = task.get_loop()
            if owner is asyncio.get_running_loop():
                task.cancel()
                # Bounded: a redis-py connection cancelled mid-read can hang its own close.
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(task, CLOSE_TIMEOUT)
            else:
                with contextlib.suppress(RuntimeError):  # that loop is closed: so is the task
                    owner.call_soon_threadsafe(task.cancel)
        self.close()

    # -- the listener -----------------------------------------------------------------------

    def _ensure_listening(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            task = self._task
            if task is not None and not task.done():
                owner = task.get_loop()
                if owner is loop or owner.is_running():
                    return  # listening already (another loop's listener fans out here too)
                # Its loop stopped (a test's asyncio.run ended): listen from this one.
                with contextlib.suppress(RuntimeError):
                    owner.call_soon_threadsafe(task.cancel)
            self._subscribed = asyncio.Event()
            self._loop = loop
            self._task = loop.create_task(self._listen(self._subscribed), name="vahva-bus")

    async def _listen(self, subscribed: asyncio.Event) -> None:
        delay, failing = self.backoff[0], False
        # Until the first subscription is confirmed the node is not listening either.
        poller = asyncio.ensure_future(self._poll(subscribed))
        try:
            while True:
                try:
                    await self._session(subscribed)
                    problem = "the subscription ended"
                except (redis.RedisError, OSError) as exc:
                    problem = str(exc) or type(exc).__name__
                if subscribed.is_set():
                    # It worked until now: a new outage, and the backoff starts again.
                    delay, failing = self.backoff[0], False
                subscribed.clear()
                if poller.done():
                    poller = asyncio.ensure_future(self._poll(subscribed))
                # One warning per outage, not one per retry.
                log.log(
                    logging.INFO if failing else logging.WARNING,
                    "event bus: %s: %s; waits poll the database every %.1fs until it is "
                    "back; retrying in %.2fs",
                    describe(self.url),
                    problem,
                    self.poll_interval,
                    delay,
                )
                failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])
        finally:
            poller.cancel()

    async def _poll(self, subscribed: asyncio.Event) -> None:
        """Degrade to polling while the listener is away: wake every waiter of the process
        every ``poll_interval`` seconds, until the subscription is back."""
        while not subscribed.is_set():
            # The first look a whole interval after the outage began: an outage of a moment
            # (a restart) costs nothing but the RESYNC when the listener is back.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(subscribed.wait(), self.poll_interval)
            if not subscribed.is_set():
                # Other nodes' publications are not reaching us: the database says what they
                # were (a push approved via another node while Redis is down still signs in).
                self._local.publish_all(RESYNC)

    async def _session(self, subscribed: asyncio.Event) -> None:
        """One connection, until it fails."""
        client = redis.asyncio.Redis.from_url(
            self.url,
            decode_responses=True,
            socket_connect_timeout=PUBLISH_TIMEOUT * 4,
            socket_keepalive=True,
            # No silent retries: a lost connection must end this session, so that the next one
            # resynchronises the waiters.
            retry=AsyncRetry(NoBackoff(), 0),
        )
        pubsub = client.pubsub()
        loop = asyncio.get_running_loop()
        try:
            await pubsub.psubscribe(self.prefix + "*")
            # The subscription's confirmation is awaited like a ping's answer: a Redis that
            # accepts the connection but does not answer (frozen) is not a subscription.
            asked: float | None = loop.time()
            while True:
                if asked is None:
                    timeout = self.health_interval
                else:
                    timeout = asked + self.ping_timeout - loop.time()
                    if timeout <= 0:
                        raise redis.ConnectionError("no answer from Redis")
                message = await pubsub.get_message(timeout=timeout)
                if message is None:
                    if asked is None:
                        # Silence: is anyone there?
                        await pubsub.ping()
                        asked = loop.time()
                    continue
                asked = None
                self._handle(message, subscribed)
        finally:
            # Bounded, as in aclose(): closing must not hang the listener (or shutdown).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pubsub.aclose(), CLOSE_TIMEOUT)  # type: ignore[no-untyped-call]
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), CLOSE_TIMEOUT)

    def _handle(self, message: dict[str, Any], subscribed: asyncio.Event) -> None:
        kind = message.get("type")
        if kind == "pmessage":
            channel, data = str(message["channel"]), str(message["data"])
            origin, _, outcome = data.partition(" ")
            if origin != self.node and channel.startswith(self.prefix):
                self._local.publish(channel[len(self.prefix) :], outcome)
        elif kind == "psubscribe":
            if subscribed.is_set():
                return
            subscribed.set()  # which also ends the polling (_poll)
            log.info("event bus: listening on %s", describe(self.url))
            # Whoever subscribed before this moment may have missed a publication.
            self._local.publish_all(RESYNC)
