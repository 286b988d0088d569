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
state, in a pool thread that closes its database connection before it returns.

Checkers are registered by name (:func:`register`); the header carries the checker's name and
its argument, so the stream knows what to look at but the browser never chooses it: the header
is set by our own view and removed before the response leaves.

Under WSGI (Django's test server) the same view answers with the first event and a ``retry``
hint; EventSource reconnects and the stream degrades to polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
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


def format_event(data: dict[str, Any], *, retry: int | None = None) -> bytes:
    lines = [f"retry: {retry}"] if retry is not None else []
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode()


def event_stream(request: HttpRequest, first: dict[str, Any], wait: Wait | None) -> HttpResponse:
    """The view's answer: ``first`` now and, under ASGI, more events as ``wait`` says."""
    carried_on = wait is not None and isinstance(request, ASGIRequest)
    # A stream that goes on is reconnected after a while spread over RETRY_JITTER_MS: when a
    # node restarts, its thousands of waiting pages do not all come back in the same second
    # (each reconnection is a Django request, with a thread while it runs).
    retry = RETRY_MS + (secrets.randbelow(RETRY_JITTER_MS) if carried_on else 0)
    response = HttpResponse(format_event(first, retry=retry), content_type="text/event-stream")
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # a buffering reverse proxy would hold the events
    if carried_on:
        assert wait is not None
        response[HEADER] = json.dumps(asdict(replace(wait, first=first)))
    return response


def _check(name: str, argument: str) -> tuple[dict[str, Any], bool, float | None]:
    """Run a checker in a pool thread and give its database connection back at once."""
    try:
        return _checkers[name](argument)
    finally:
        # No connection is kept per waiting stream: this pool thread serves the next one.
        connections.close_all()


async def check(name: str, argument: str) -> tuple[dict[str, Any], bool, float | None]:
    # thread_sensitive=False: a shared pool, not the request's own (already released) thread.
    return await sync_to_async(_check, thread_sensitive=False)(name, argument)


class WaitStreams:
    """ASGI middleware that carries on the event streams Django's views begin."""

    def __init__(self, app: ASGIApp, *, clock: Callable[[], float] | None = None) -> None:
        self.app = app
        # vahva's clock, as the checkers' deadlines are (tests move it instead of waiting).
        self.clock = clock or (lambda: vahva_clock.now().timestamp())

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
        # Subscribed before looking again: an outcome published between the view's read and
        # now is seen by this look, one published after it is queued for the loop below.
        listener = bus.get().subscribe(wait.key)
        try:
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


def _body(data: bytes) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": True}


async def _disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
