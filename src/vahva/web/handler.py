"""Django's ASGI handler, with a request's thread kept for the next request.

Under ASGI, Django runs the sync part of a request (middleware, the ORM, the view) in a thread
made for that request and ended after it (asgiref's ``ThreadSensitiveContext``). A database
connection belongs to a thread, so every request paid for a new connection (and SQLite's
PRAGMAs) and for a new thread. Here a finished request hands its thread back, and the next
request runs in it, with the connection the thread already has: Django's persistent
connections (``CONN_MAX_AGE``, checked with ``CONN_HEALTH_CHECKS`` before reuse and closed at
the end of a request that left it unusable), as under a threaded WSGI server.

A thread still runs one request at a time (an executor of one worker), a request that needs a
thread while all are busy gets a new one, and no more than :data:`KEEP` idle threads are kept:
a burst (a campus reconnecting at once) does not leave its threads behind.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler
from django.db import connections

#: Idle request threads (each with its database connection) kept for the next requests.
KEEP = 16


class RequestThreads:
    """Single-thread executors handed to requests, newest first. Used from the event loop's
    thread only, so it needs no lock."""

    def __init__(self, *, keep: int = KEEP) -> None:
        self.keep = keep
        self._idle: list[ThreadPoolExecutor] = []
        #: Threads started so far (for tests and the benchmarks).
        self.started = 0

    @property
    def idle(self) -> int:
        return len(self._idle)

    def take(self) -> ThreadPoolExecutor:
        if self._idle:
            # The most recently used: its connection is the least likely to have gone stale.
            return self._idle.pop()
        self.started += 1
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="vahva-request")

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        if len(self._idle) < self.keep:
            self._idle.append(executor)
            return
        # Retired: its connection is closed in its own thread (a connection belongs to it).
        executor.submit(connections.close_all)
        executor.shutdown(wait=False)

    def close(self) -> None:
        while self._idle:
            executor = self._idle.pop()
            executor.submit(connections.close_all)
            executor.shutdown(wait=True)


class ReusingASGIHandler(ASGIHandler):
    """``ASGIHandler`` whose requests run in reused threads (:class:`RequestThreads`)."""

    def __init__(self, *, keep: int = KEEP) -> None:
        super().__init__()
        self.threads = RequestThreads(keep=keep)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self.threads.take()
        try:
            # The caller's executor: asgiref runs every thread-sensitive call of this request
            # in it, and does not shut it down on exit.
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self.threads.give_back(executor)


def get_asgi_application() -> ReusingASGIHandler:
    """As ``django.core.asgi.get_asgi_application``, with :class:`ReusingASGIHandler`."""
    import django

    django.setup(set_prefix=False)
    return ReusingASGIHandler()
