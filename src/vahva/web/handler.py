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

A request for a sync view (all of vahva's) is run through a chain of the same middleware
built for sync code (:class:`SyncChain`, as under WSGI), called once from the event loop in
the request's thread. Django's async chain, with sync middleware, hops between that thread and
the event loop for every layer that changes mode: into the thread for the middleware, back
to the loop for the URL resolution, into the thread again for each ``process_view`` and for
the view. A path whose view is a coroutine function still takes the async chain.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, iscoroutinefunction, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.db import connections
from django.http import FileResponse, HttpResponseBase
from django.urls import Resolver404, resolve, set_script_prefix

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


#: Paths longer than this are resolved every time rather than remembered (the cache's memory).
_CACHED_PATH = 256


@functools.lru_cache(maxsize=2048)
def _async_view(urlconf: str, path: str) -> bool:
    try:
        match = resolve(path, urlconf)
    except Resolver404:
        return False  # the 404 page (or CommonMiddleware's slash redirect): sync code
    return iscoroutinefunction(match.func)


def takes_sync_chain(path: str) -> bool:
    """Whether the request for ``path`` may take the sync chain: its view is not async."""
    urlconf = str(settings.ROOT_URLCONF)
    if len(path) > _CACHED_PATH:
        return not _async_view.__wrapped__(urlconf, path)
    return not _async_view(urlconf, path)


class SyncChain(BaseHandler):
    """``middleware`` (dotted paths) built as a sync chain around Django's sync
    ``_get_response``: what a WSGI server runs. Its ``get_response`` is called in the request's
    thread."""

    def __init__(self, middleware: list[str]) -> None:
        super().__init__()
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = list(middleware)
        try:
            self.load_middleware(is_async=False)
        finally:
            settings.MIDDLEWARE = full


class SyncViewsMixin:
    """A sync view's request in one hop to the request's thread: Django's ``request_started``
    receivers (the connection's health), :class:`SyncChain` (the same middleware, in the same
    order), and for a response that is not streamed, its ``close()`` (``request_finished``: the
    connection again). Django's ``handle`` takes three hops for them, and its async chain
    several more. A streamed response is closed after it is sent, as Django closes it."""

    sync_chain: SyncChain | None = None

    async def handle(self, scope: Any, receive: Any, send: Any) -> None:
        path: str = scope.get("path", "")
        prefix = get_script_prefix(scope)
        if self.sync_chain is None or not takes_sync_chain(
            path.removeprefix(prefix) if prefix else path
        ):
            await super().handle(scope, receive, send)  # type: ignore[misc]
            return
        try:
            body_file = await self.read_body(receive)  # type: ignore[attr-defined]
        except RequestAborted:
            return
        set_script_prefix(prefix)
        try:
            # thread_sensitive: the request's own thread (ReusingASGIHandler's executor),
            # with its database connection, as every sync call of the request.
            response, closed = await sync_to_async(self._respond, thread_sensitive=True)(
                scope, body_file
            )
            await self.send_response(response, send)  # type: ignore[attr-defined]
        except asyncio.CancelledError:
            # The client went away while the answer was being sent.
            return
        finally:
            body_file.close()
        if not closed:
            await sync_to_async(response.close, thread_sensitive=True)()

    def _respond(self, scope: Any, body_file: Any) -> tuple[HttpResponseBase, bool]:
        """In the request's thread: the answer, and whether it is closed already."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)  # type: ignore[attr-defined]
        if request is None:
            response: HttpResponseBase = error_response
        else:
            assert self.sync_chain is not None
            response = self.sync_chain.get_response(request)
            response._handler_class = self.__class__  # type: ignore[attr-defined]
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size  # type: ignore[attr-defined]
        if response.streaming:
            return response, False
        # The body is all here: what close() ends (the request's files, request_finished's
        # connection check) is not needed to send it.
        response.close()
        return response, True


class LeanASGIHandler(SyncViewsMixin, ASGIHandler):
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
        self.sync_chain = SyncChain(list(settings.LEAN_MIDDLEWARE))


class ReusingASGIHandler(SyncViewsMixin, ASGIHandler):
    """``ASGIHandler`` whose requests run in reused threads (:class:`RequestThreads`).

    A request for one of ``settings.LEAN_PATHS`` is handed to a :class:`LeanASGIHandler`
    (same URLs, views and threads; a shorter middleware chain); every other path takes the
    full chain.
    """

    def __init__(self, *, keep: int = KEEP, most: int = MAX_THREADS) -> None:
        super().__init__()
        self.sync_chain = SyncChain(list(settings.MIDDLEWARE))
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
