"""`vahva serve`'s Django handler keeps a request's thread, and its database connection, for the
next request (vahva.web.handler), without letting requests share a thread at once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from django.db import connections
from django.db.backends.signals import connection_created

from vahva.web.handler import RequestThreads, ReusingASGIHandler


class Served(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.up = threading.Event()

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        self.up.set()


@pytest.fixture
def served(transactional_db: Any, settings: Any) -> Iterator[tuple[str, ReusingASGIHandler]]:
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    handler = ReusingASGIHandler(keep=2)
    config = uvicorn.Config(handler, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = Served(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert server.up.wait(timeout=30), "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", handler
    server.should_exit = True
    thread.join(timeout=30)
    handler.threads.close()


def test_requests_reuse_one_thread_and_its_connection(
    served: tuple[str, ReusingASGIHandler],
) -> None:
    base, handler = served
    opened: list[int] = []

    def count(sender: Any, connection: Any, **kwargs: Any) -> None:
        opened.append(threading.get_ident())

    pool = connections["default"].pool if connections["default"].vendor == "postgresql" else None
    if pool is not None:
        pool.open()
        pool.wait(timeout=30)  # its min_size connections, opened in the background
        ready = pool.get_stats()["connections_num"]
    connection_created.connect(count)
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(5):
                # An unknown (well-formed) API key: looked up in the database, refused.
                answer = client.post(
                    "/api/validate/v1/check",
                    json={"user": "alice@example.org", "code": "123456"},
                    headers={"Authorization": "Bearer " + "0" * 16 + "." + "A" * 43},
                )
                assert answer.status_code == 401
    finally:
        connection_created.disconnect(count)
    # Five requests one after the other: they reuse threads and their connections (it was a
    # new thread and a new connection for each). Two at most: the next request may arrive
    # while the previous one's handler is still finishing after its answer went out.
    assert 1 <= handler.threads.started <= 2
    if pool is None:
        # SQLite: each thread opened its connection once and kept it.
        assert len(opened) == handler.threads.started
    else:
        # PostgreSQL: a request takes a connection from Django's pool and puts it back: five
        # requests, no more than two at once, opened at most two connections beyond the
        # pool's ready ones (this test's own thread may hold one).
        assert pool.get_stats()["connections_num"] - ready <= 2


def test_busy_threads_are_not_shared_and_a_burst_is_not_kept(transactional_db: Any) -> None:
    threads = RequestThreads(keep=1)
    first, second = threads.take_now(), threads.take_now()
    # Two requests at once: two threads, never one thread for both.
    assert first is not second
    assert threads.started == 2
    ident = threading.get_ident
    assert first.submit(ident).result() != second.submit(ident).result()

    def connected() -> Any:
        wrapper = connections["default"]  # this thread's own DatabaseWrapper
        wrapper.ensure_connection()
        return wrapper

    wrapper = second.submit(connected).result()
    assert wrapper.connection is not None
    threads.give_back(first)
    threads.give_back(second)
    # Over `keep`: the second thread is retired, its connection closed in it, and it ends.
    assert threads.idle == 1
    second.shutdown(wait=True)
    assert wrapper.connection is None
    with pytest.raises(RuntimeError):
        second.submit(ident)
    assert threads.take_now() is first  # the kept one comes back, with its thread
    threads.give_back(first)
    threads.close()
    assert threads.idle == 0


def test_a_burst_waits_for_threads_instead_of_starting_one_each() -> None:
    """A thousand streams opened at once: no more than `most` threads, the rest wait (in the
    event loop) for a thread handed back, in order; a request that gives up stops waiting."""

    async def burst() -> None:
        threads = RequestThreads(keep=1, most=2)
        first, second = await threads.take(), await threads.take()
        third = asyncio.ensure_future(threads.take())
        gave_up = asyncio.ensure_future(threads.take())
        fourth = asyncio.ensure_future(threads.take())
        await asyncio.sleep(0)  # let them queue (not a wait for time: one turn of the loop)
        assert not third.done()
        assert threads.waiting == 3
        assert threads.started == 2  # no third thread
        gave_up.cancel()
        await asyncio.sleep(0)
        assert threads.waiting == 2
        threads.give_back(first)
        assert await third is first  # handed on at once, not parked idle
        threads.give_back(second)
        assert await fourth is second
        threads.give_back(first)
        threads.give_back(second)
        # Over `keep`: one is retired, one kept; never more than two alive.
        assert threads.idle == 1
        assert threads.alive == 1
        assert threads.started == 2
        threads.close()
        assert threads.alive == 0

    asyncio.run(burst())
