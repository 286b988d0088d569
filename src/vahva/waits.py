"""Server-sent events that wait without a thread or a database connection.

Under ASGI Django runs every request inside a "thread-sensitive context": the sync parts of
the request (middleware, sessions, the ORM) get a thread of their own, kept until the response
has been sent. A stream that waits a minute for a phone would keep that thread, and a few
thousand waiting sign-ins would be a few thousand threads. So the waiting is not done in
Django. A view answers an event-stream request at once, with the first event and an internal
header that names what to wait for (:func:`event_stream`). :class:`WaitStreams`, the ASGI
layer around Django, strips the header, lets Django finish the request (its thread and its
database connection are released), and carries the stream on itself: it waits on the event
bus, and when woken (or when the thing waited for expires) it asks a *checker* for the new
state. The bus only says "look again": every state a stream sends was read from the database.

The checkers run in a small pool of :data:`CHECK_THREADS` threads of their own, whose
database connections live as a request thread's do (``CONN_MAX_AGE`` with health checks;
on PostgreSQL, taken from Django's pool for the check and put back): a notification costs
the checker's queries, not a new connection. No thread or connection is held per waiting
stream; a thousand streams woken together queue for the few threads.

The view's request reads the state once more with the checker (on its own, already open
connection) after taking the bus's mark, and the header carries that reading. Once the
stream is subscribed it asks the bus whether anything was published for its key since the
mark; only then does it read again. A thousand streams opening at once thus cost no second
read each in the pool, and no outcome is lost between the view's read and the subscription.

Checkers are registered by name (:func:`register`); the header carries the checker's name and
its argument, so the stream knows what to look at but the browser never chooses it: the header
is set by our own view and removed before the response leaves.

Opening a stream is a Django request, with a request thread while it runs. When a campus
reconnects at once (a node restarted), a thousand ``Accept: text/event-stream`` requests
arrive together: :class:`WaitStreams` lets at most :data:`OPENING` of them into Django at a
time and queues the rest in the event loop, as coroutines. A burst of openings thus holds a
few threads (each with its database connection and SQLite's page cache), not one per stream
nor all of the handler's, and the sign-ins and phone answers arriving meanwhile still find
threads.

Under WSGI (Django's test server) the same view answers with the first event and a ``retry``
hint; EventSource reconnects and the stream degrades to polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import json
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections, connections
from django.http import HttpRequest, HttpResponse

from vahva import bus
from vahva import clock as vahva_clock

log = logging.getLogger(__name__)

#: Set by :func:`event_stream`, read and removed by :class:`WaitStreams`; never sent out.
HEADER = "X-Vahva-Wait"
_HEADER_BYTES = HEADER.lower().encode("ascii")
#: A comment line this often keeps proxies from closing an idle stream.
HEARTBEAT = 15.0
#: EventSource's reconnection delay (ms), sent with the first event; streams that go on add
#: up to RETRY_JITTER_MS at random.
RETRY_MS = 2000
RETRY_JITTER_MS = 8000

#: checker(argument) -> (event data, final, until): the current state of what a stream waits
#: for, whether it is the last event, and the Unix time at which it changes by itself (a
#: request expiring) or None.
Checker = Callable[[str], tuple[dict[str, Any], bool, float | None]]
_checkers: dict[str, Checker] = {}
#: A stream ends after this many seconds at the latest; EventSource then reconnects.
MAX_STREAM = 600.0
#: Event-stream requests (``Accept: text/event-stream``) in Django at once; the next wait in
#: the event loop. Opening a stream takes a few milliseconds of CPU on one core: more at once
#: would not open them faster, only hold more threads and memory.
OPENING = 8
#: Threads that run the checkers, each with its database connection (a check takes a few
#: queries; more threads would only add connections on a process with one or two cores).
CHECK_THREADS = 4

Scope = Any
Message = Any
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def register(name: str, checker: Checker) -> None:
    _checkers[name] = checker


@dataclass(frozen=True)
class Wait:
    """What a stream waits for after its first event."""

    #: The registered checker to ask, and its argument.
    checker: str
    argument: str
    #: The event-bus key whose publications wake the stream.
    key: str
    #: The event the view sent (filled in by :func:`event_stream`): not sent again.
    first: dict[str, Any] = field(default_factory=dict)
    #: The checker's answer read by the view's request after the bus's ``mark`` (filled in
    #: by :func:`event_stream`); without a mark the stream reads the state itself first.
    data: dict[str, Any] | None = None
    final: bool = False
    until: float | None = None
    mark: float | None = None


def format_event(data: dict[str, Any], *, retry: int | None = None) -> bytes:
    lines = [f"retry: {retry}"] if retry is not None else []
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode()


def event_stream(
    request: HttpRequest, first: dict[str, Any] | None, wait: Wait | None
) -> HttpResponse:
    """The view's answer: ``first`` now and, under ASGI, more events as ``wait`` says.
    ``first`` None: the checker's answer is the first event (``wait`` is then required)."""
    carried_on = wait is not None and isinstance(request, ASGIRequest)
    read: dict[str, Any] = {}
    if wait is not None and (carried_on or first is None):
        # The mark first, then the read: what is published after the mark is noted by the bus.
        mark = bus.get().mark()
        try:
            data, final, until = _checkers[wait.checker](wait.argument)
        except Exception:
            if first is None:
                raise
            # The stream reads the state itself once it waits (and logs what fails there).
            log.exception("event stream: reading %s in the view failed", wait.checker)
        else:
            read = {"data": data, "final": final, "until": until, "mark": mark}
            first = data if first is None else first
    if first is None:
        raise ValueError("event_stream needs a first event or a wait to read it from")
    # A stream that goes on is reconnected after a while spread over RETRY_JITTER_MS: when a
    # node restarts, its thousands of waiting pages do not all come back in the same second
    # (each reconnection is a Django request, with a thread while it runs).
    retry = RETRY_MS + (secrets.randbelow(RETRY_JITTER_MS) if carried_on else 0)
    response = HttpResponse(format_event(first, retry=retry), content_type="text/event-stream")
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # a buffering reverse proxy would hold the events
    if carried_on:
        assert wait is not None
        response[HEADER] = json.dumps(asdict(replace(wait, first=first, **read)))
    return response


def _check(name: str, argument: str) -> tuple[dict[str, Any], bool, float | None]:
    """Run a checker in a check thread, as a request would run: the thread's connection is
    health-checked before and kept after (or, from Django's pool, put back)."""
    close_old_connections()
    try:
        return _checkers[name](argument)
    finally:
        # Kept for the next check unless expired, broken or left in a transaction; with the
        # PostgreSQL pool (CONN_MAX_AGE 0) back to the pool at once.
        close_old_connections()


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _checks() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(CHECK_THREADS, thread_name_prefix="vahva-wait")
        return _executor


async def check(name: str, argument: str) -> tuple[dict[str, Any], bool, float | None]:
    """The checker's answer, from a check thread (never the event loop: it queries)."""
    call = functools.partial(contextvars.copy_context().run, _check, name, argument)
    return await asyncio.get_running_loop().run_in_executor(_checks(), call)


def close_checks() -> None:
    """Stop the check threads, closing their connections (tests, shutdown)."""
    global _executor
    with _executor_lock:
        executor, _executor = _executor, None
    if executor is not None:
        for _ in range(CHECK_THREADS):
            executor.submit(connections.close_all)
        executor.shutdown(wait=True)


class WaitStreams:
    """ASGI middleware that carries on the event streams Django's views begin."""

    def __init__(
        self, app: ASGIApp, *, clock: Callable[[], float] | None = None, opening: int = OPENING
    ) -> None:
        self.app = app
        # vahva's clock, as the checkers' deadlines are (tests move it instead of waiting).
        self.clock = clock or (lambda: vahva_clock.now().timestamp())
        self.opening = opening
        self._gate: asyncio.Semaphore | None = None
        #: Event-stream requests in Django now, and the most there were at once (for tests).
        self.in_django = 0
        self.most_in_django = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        found: list[Wait] = []
        finished = False

        async def relay(message: Message) -> None:
            nonlocal finished
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                for name, value in headers:
                    if name.lower() == _HEADER_BYTES:
                        found.append(Wait(**json.loads(value)))
                if found:
                    # The stream goes on after Django's body: no length, no internal header.
                    headers = [
                        (name, value)
                        for name, value in headers
                        if name.lower() not in (_HEADER_BYTES, b"content-length")
                    ]
                message = {**message, "headers": headers}
            elif (
                message["type"] == "http.response.body"
                and found
                and not message.get("more_body", False)
            ):
                # Django is done; the stream is not.
                message = {**message, "more_body": True}
                finished = True
            await send(message)

        if _asks_for_events(scope):
            if self._gate is None:
                self._gate = asyncio.Semaphore(self.opening)
            # A flood of stream openings (a reconnecting campus, or someone opening streams
            # by the thousand) queues here, not in the request threads sign-ins need.
            async with self._gate:
                self.in_django += 1
                self.most_in_django = max(self.most_in_django, self.in_django)
                try:
                    await self.app(scope, receive, relay)
                finally:
                    self.in_django -= 1
        else:
            await self.app(scope, receive, relay)
        if found and finished:
            await self._carry_on(found[0], receive, send)

    async def _carry_on(self, wait: Wait, receive: Receive, send: Send) -> None:
        disconnected = asyncio.ensure_future(_disconnect(receive))
        try:
            await self._stream(wait, disconnected, send)
        except OSError:
            pass  # the client went away while we wrote
        except Exception:
            log.exception("event stream for %s failed", wait.checker)
        finally:
            disconnected.cancel()
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _stream(self, wait: Wait, disconnected: asyncio.Future[None], send: Send) -> None:
        end = self.clock() + MAX_STREAM
        # Subscribed before asking the bus: an outcome published between the view's read and
        # now is noted (and read again below), one published after it is queued for the loop.
        events = bus.get()
        listener = events.subscribe(wait.key)
        try:
            if (
                wait.mark is not None
                and wait.data is not None
                and not events.changed_since(wait.key, wait.mark)
            ):
                # Nothing published since the view's request read the state: still the state.
                data, final, until = wait.data, wait.final, wait.until
            else:
                data, final, until = await check(wait.checker, wait.argument)
            last: dict[str, Any] | None = wait.first
            while True:
                if data != last:
                    await send(_body(format_event(data)))
                    last = data
                if final or self.clock() >= end:
                    return
                woken = asyncio.ensure_future(listener.next(self._limit(until, end)))
                either: list[asyncio.Future[Any]] = [woken, disconnected]
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                if disconnected.done():
                    woken.cancel()
                    return
                if woken.result() is None and (until is None or self.clock() < until):
                    await send(_body(b": -\n\n"))  # heartbeat: nothing new
                    continue
                # Woken, or the state's own deadline passed: look again.
                data, final, until = await check(wait.checker, wait.argument)
        finally:
            listener.close()

    def _limit(self, until: float | None, end: float) -> float:
        now = self.clock()
        # Wake at the state's deadline (a little after, so the checker sees it passed), to
        # send a heartbeat, or at the end of the stream, whichever comes first.
        limit = min(HEARTBEAT, end - now)
        if until is not None:
            limit = min(limit, until - now + 0.25)
        return max(0.05, limit)


def _asks_for_events(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"accept":
            return b"text/event-stream" in value
    return False


def _body(data: bytes) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": True}


async def _disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
