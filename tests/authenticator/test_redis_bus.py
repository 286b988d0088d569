"""The Redis event bus against a real redis-server on loopback: two RedisBus objects are two
nodes; a publication on one wakes the waiters of the other; nothing published after subscribe
is lost; Redis going away fails no publisher, and delivery resumes when it is back."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from vahva import bus
from vahva.authenticator.redis_bus import RESYNC, RedisBus, describe
from vahva.settings.config import load

if TYPE_CHECKING:
    from tests.redis_server import RedisServer

pytest_plugins = ["tests.redis_server"]

#: Every bounded wait of these tests; a healthy run answers in milliseconds.
WAIT = 5.0


def run(scenario: Any) -> Any:
    """asyncio.run with a bound: a wait that never ends fails the test, with its traceback."""
    return asyncio.run(asyncio.wait_for(scenario, 60))


@pytest.fixture
def nodes(redis_server: RedisServer) -> Iterator[Callable[[], RedisBus]]:
    """Make RedisBus "nodes" on the session's Redis, with a channel prefix of this test's own."""
    prefix = f"test:{uuid.uuid4().hex}:"
    made: list[RedisBus] = []

    def make() -> RedisBus:
        node = RedisBus(redis_server.url, prefix=prefix, backoff=(0.05, 0.2))
        made.append(node)
        return node

    yield make
    for node in made:
        node.close()


def _in_thread(call: Callable[[], None]) -> None:
    worker = threading.Thread(target=call)
    worker.start()
    worker.join(WAIT)
    assert not worker.is_alive()


def test_a_publication_on_one_node_wakes_a_waiter_on_another(
    nodes: Callable[[], RedisBus],
) -> None:
    node_a, node_b = nodes(), nodes()

    async def scenario() -> None:
        assert await node_b.connected(WAIT)
        waiter = node_b.subscribe("attempt-1")
        other = node_b.subscribe("attempt-2")
        # From a worker thread (a sync view under ASGI), on the other node.
        _in_thread(lambda: node_a.publish("attempt-1", "approved"))
        assert await waiter.next(WAIT) == "approved"
        assert await other.next(0.2) is None  # another attempt's waiter is not woken
        waiter.close()
        other.close()
        assert node_b.waiting() == 0
        await node_b.aclose()

    run(scenario())


def test_two_nodes_hear_each_other(nodes: Callable[[], RedisBus]) -> None:
    node_a, node_b = nodes(), nodes()

    async def scenario() -> None:
        assert await node_a.connected(WAIT)
        assert await node_b.connected(WAIT)
        on_a, on_b = node_a.subscribe("k"), node_b.subscribe("k")
        node_a.publish("k", "approved")
        # Each waiter once: node A's own publication is delivered locally, not again by Redis.
        assert await on_a.next(WAIT) == "approved"
        assert await on_b.next(WAIT) == "approved"
        node_b.publish("k", "denied")
        assert await on_a.next(WAIT) == "denied"
        assert await on_b.next(WAIT) == "denied"
        assert await on_a.next(0.2) is None
        assert await on_b.next(0.0) is None
        on_a.close()
        on_b.close()
        # wait() is subscribe + next + close.
        task = asyncio.create_task(node_b.wait("w", WAIT))
        while node_b.waiting() == 0:
            await asyncio.sleep(0)  # let the task subscribe (a scheduling yield, not a sleep)
        node_a.publish("w", "expired")
        assert await task == "expired"
        await node_a.aclose()
        await node_b.aclose()

    run(scenario())


def test_what_is_published_between_subscribe_and_next_is_queued(
    nodes: Callable[[], RedisBus],
) -> None:
    node_a, node_b = nodes(), nodes()

    async def scenario() -> list[str | None]:
        assert await node_b.connected(WAIT)
        listener = node_b.subscribe("attempt")
        # While the waiter reads the database: two outcomes, before it asks for any.
        node_a.publish("attempt", "approved")
        node_a.publish("attempt", "denied")
        try:
            return [await listener.next(WAIT), await listener.next(WAIT)]
        finally:
            listener.close()
            await node_b.aclose()

    assert run(scenario()) == ["approved", "denied"]


def test_the_first_waiter_is_told_to_look_again_once_the_node_listens(
    nodes: Callable[[], RedisBus],
) -> None:
    """The listener starts with the first subscription; what other nodes published before
    Redis confirmed it is lost, so the waiters of that moment are woken with RESYNC."""
    node_a, node_b = nodes(), nodes()

    async def scenario() -> None:
        listener = node_b.subscribe("attempt")
        node_a.publish("attempt", "approved")  # before node B listens: lost
        try:
            # Not left to its timeout: told to look again (the database says "approved").
            assert await listener.next(WAIT) == RESYNC
            assert await node_b.connected(0.0)
            # Later subscribers get only real outcomes.
            late = node_b.subscribe("attempt-2")
            node_a.publish("attempt-2", "denied")
            assert await late.next(WAIT) == "denied"
            assert await late.next(0.1) is None
            late.close()
        finally:
            listener.close()
            await node_b.aclose()

    run(scenario())


def test_a_node_listens_again_on_a_new_event_loop(nodes: Callable[[], RedisBus]) -> None:
    """A loop that ended (one asyncio.run after another) takes its listener along; the next
    subscriber's loop gets a new one."""
    node_a, node_b = nodes(), nodes()

    async def once(outcome: str) -> str | None:
        assert await node_b.connected(WAIT)
        listener = node_b.subscribe("k")
        node_a.publish("k", outcome)
        try:
            return await listener.next(WAIT)
        finally:
            listener.close()

    assert run(once("approved")) == "approved"
    assert run(once("denied")) == "denied"


def test_redis_down_fails_no_publisher_and_delivery_resumes_when_it_is_back(
    own_redis: Callable[[], RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = own_redis()
    node_a = RedisBus(server.url, backoff=(0.05, 0.2))
    node_b = RedisBus(server.url, backoff=(0.05, 0.2))

    async def scenario() -> None:
        assert await node_b.connected(WAIT)
        listener = node_b.subscribe("attempt")
        node_a.publish("attempt", "before")
        assert await listener.next(WAIT) == "before"

        server.stop()
        started = time.monotonic()
        # Off the event loop, as a sync view publishes: the loop keeps serving meanwhile.
        await asyncio.to_thread(node_a.publish, "attempt", "approved")  # logged, not raised
        print(f"publish with Redis down returned after {time.monotonic() - started:.3f}s")
        assert "could not publish approved" in caplog.text
        # While Redis is away, waits time out (the database is the truth).
        assert await listener.next(0.3) is None
        assert not await node_b.connected(0.0)
        # A waiter of node A itself is still woken by node A's publications.
        own = node_a.subscribe("mine")
        node_a.publish("mine", "approved")
        assert await own.next(WAIT) == "approved"
        own.close()

        server.start()  # the same port
        assert await node_b.connected(WAIT)
        # Whatever was published during the outage may be lost: the waiter looks again.
        assert await listener.next(WAIT) == RESYNC
        # And the publisher's pooled connection, closed by the restart, is replaced.
        node_a.publish("attempt", "denied")
        assert await listener.next(WAIT) == "denied"
        listener.close()
        await node_a.aclose()
        await node_b.aclose()

    run(scenario())


def test_describe_hides_the_password() -> None:
    assert describe("redis://:s3cret@cache.example:6380/2") == "redis://cache.example:6380/2"
    assert describe("unix:///run/redis.sock") == "unix:///run/redis.sock"


# --- configuration -----------------------------------------------------------------------


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"VAHVA_DATA_DIR": str(tmp_path), **extra}


def test_redis_url_from_the_file_and_the_environment(tmp_path: Path) -> None:
    assert load(_env(tmp_path)).redis_url == ""
    (tmp_path / "vahva.toml").write_text('redis_url = "redis://127.0.0.1:6379/0"\n')
    assert load(_env(tmp_path)).redis_url == "redis://127.0.0.1:6379/0"
    env = _env(tmp_path, REDIS_URL="rediss://:pw@redis.example:6380/1")
    assert load(env).redis_url == "rediss://:pw@redis.example:6380/1"


def test_a_bad_redis_url_is_an_error_that_does_not_echo_it(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL must start with") as raised:
        load(_env(tmp_path, REDIS_URL="http://:hunter2@redis.example"))
    assert "hunter2" not in str(raised.value)
    (tmp_path / "vahva.toml").write_text('redis_url = "localhost:6379"\n')
    with pytest.raises(ImproperlyConfigured, match="redis_url must start with"):
        load(_env(tmp_path))
    (tmp_path / "vahva.toml").write_text('redis_uri = "redis://localhost"\n')
    with pytest.raises(ImproperlyConfigured, match="unknown key"):
        load(_env(tmp_path))


def test_the_app_installs_the_redis_bus_when_configured(settings: Any) -> None:
    from django.apps import apps

    config = apps.get_app_config("authenticator")
    try:
        settings.REDIS_URL = "redis://127.0.0.1:9/0"  # never contacted: nothing connects yet
        config.ready()
        installed = bus.get()
        assert isinstance(installed, RedisBus)
        assert installed._task is None
        settings.REDIS_URL = ""
        bus.install(None)
        config.ready()
        assert not isinstance(bus.get(), RedisBus)
    finally:
        bus.install(None)


def test_a_node_not_listening_cannot_say_nothing_was_published(
    nodes: Callable[[], RedisBus],
) -> None:
    """A stream opening on a node whose listener is not (yet, or no longer) subscribed must
    read the database again: another node's publications may not have reached it."""
    node_a, node_b = nodes(), nodes()

    async def scenario() -> None:
        mark = node_b.mark()
        waiter = node_b.subscribe("attempt-1")  # starts the listener; not confirmed yet
        assert node_b.changed_since("attempt-1", mark)
        assert await node_b.connected(WAIT)
        # Subscribed: the RESYNC on confirmation makes every earlier mark look again once...
        assert node_b.changed_since("attempt-1", mark)
        # ...and from a later mark only this key's publications count, from either node.
        later = node_b.mark()
        assert not node_b.changed_since("attempt-1", later)
        assert await waiter.next(WAIT) == RESYNC  # the subscriber was told too
        _in_thread(lambda: node_a.publish("attempt-1", "approved"))
        assert await waiter.next(WAIT) == "approved"
        assert node_b.changed_since("attempt-1", later)
        assert not node_b.changed_since("attempt-2", later)
        waiter.close()
        await node_b.aclose()

    run(scenario())
