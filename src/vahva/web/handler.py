"""Django's ASGI handler, with a request's thread kept for the next request.

Under ASGI, Django runs the sync part of a request (middleware, the ORM, the view) in a thread
made for that request and ended after it (asgiref's ``ThreadSensitiveContext``). A database
connection belongs to a thread, so every request paid for a new connection (and SQLite's
PRAGMAs) and for a new thread. Here a finished request hands its thread back, and the next
request runs in it, with the connection the thread already has: Django's persistent
connections (``CONN_MAX_AGE``, checked with ``CONN_HEALTH_CHECKS`` before reuse and closed at
the end of a request that left it unusable), as under a threaded WSGI server.

A thread still runs one request at a time (an executor of one worker). A request that needs a
thread while all are busy gets a new one, up to :data:`MAX_THREADS`; beyond that it waits in
the event loop (a coroutine, not a thread) for the next thread handed back. A burst (a campus
reconnecting at once, a thousand event streams opened together) therefore holds at most
MAX_THREADS threads, not one per request, and no more than :data:`KEEP` idle threads are kept
afterwards.
"""

from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.db import connections

#: Idle request threads (each with its database connection) kept for the next requests.
KEEP = 16
#: Request threads at most: a request beyond them waits for one (memory: a thread's stack and
#: its database connection; PostgreSQL's pool hands out 20 connections per process anyway).
MAX_THREADS = 64


class RequestThreads:
    """Single-thread executors handed to requests, newest first. Used from the event loop's
    thread only, so it needs no lock."""

    def __init__(self, *, keep: int = KEEP, most: int = MAX_THREADS) -> None:
        self.keep = keep
        self.most = max(most, 1)
        self._idle: list[ThreadPoolExecutor] = []
        self._waiting: deque[asyncio.Future[ThreadPoolExecutor]] = deque()
        #: Threads started so far, and alive now (busy or idle): for tests and the benchmarks.
        self.started = 0
        self.alive = 0

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def take_now(self) -> ThreadPoolExecutor | None:
        """An idle thread, or a new one while there are fewer than ``most``; else None."""
        if self._idle:
            # The most recently used: its connection is the least likely to have gone stale.
            return self._idle.pop()
        if self.alive >= self.most:
            return None
        self.started += 1
        self.alive += 1
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="vahva-request")

    async def take(self) -> ThreadPoolExecutor:
        executor = self.take_now()
        if executor is not None:
            return executor
        waiter: asyncio.Future[ThreadPoolExecutor] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # Handed a thread just as the request was cancelled: pass it on.
                self.give_back(waiter.result())
            else:
                self._waiting.remove(waiter)
            raise

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(executor)
                return
        if len(self._idle) < self.keep:
            self._idle.append(executor)
            return
        self.alive -= 1
        # Retired: its connection is closed in its own thread (a connection belongs to it).
        executor.submit(connections.close_all)
        executor.shutdown(wait=False)

    def close(self) -> None:
        while self._idle:
            executor = self._idle.pop()
            self.alive -= 1
            executor.submit(connections.close_all)
            executor.shutdown(wait=True)


class LeanASGIHandler(ASGIHandler):
    """Django's handler with ``settings.LEAN_MIDDLEWARE`` instead of ``MIDDLEWARE``: for the
    machine-to-machine endpoints (``settings.LEAN_PATHS``), which need neither the browser's
    session nor its CSRF check. The settings say which middleware is dropped, and why that is
    safe there."""

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler builds its chain from settings.MIDDLEWARE: the lean list stands in for it
        # while the chain is built (once, before the first request, in one thread).
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = list(settings.LEAN_MIDDLEWARE)
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class ReusingASGIHandler(ASGIHandler):
    """``ASGIHandler`` whose requests run in reused threads (:class:`RequestThreads`).

    A request for one of ``settings.LEAN_PATHS`` is handed to a :class:`LeanASGIHandler`
    (same URLs, views and threads; a shorter middleware chain); every other path takes the
    full chain.
    """

    def __init__(self, *, keep: int = KEEP, most: int = MAX_THREADS) -> None:
        super().__init__()
        self.threads = RequestThreads(keep=keep, most=most)
        self.lean_paths: tuple[str, ...] = tuple(getattr(settings, "LEAN_PATHS", ()))
        self.lean = LeanASGIHandler() if self.lean_paths else None

    def handler_for(self, path: str) -> ASGIHandler:
        """The lean handler for a lean path, else this one (the full chain)."""
        if self.lean is not None and path.startswith(self.lean_paths):
            return self.lean
        return self

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = await self.threads.take()
        try:
            # The caller's executor: asgiref runs every thread-sensitive call of this request
            # in it, and does not shut it down on exit.
            async with ThreadSensitiveContext(executor=executor):
                await self.handler_for(scope.get("path", "")).handle(scope, receive, send)
        finally:
            self.threads.give_back(executor)


def get_asgi_application() -> ReusingASGIHandler:
    """As ``django.core.asgi.get_asgi_application``, with :class:`ReusingASGIHandler`."""
    import django

    django.setup(set_prefix=False)
    return ReusingASGIHandler()
