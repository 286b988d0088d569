"""The in-process event bus: waits are futures, woken from any thread; answers publish after the
database commit, so a woken waiter finds the new state."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.authenticator.device import TestDevice
from vahva import bus
from vahva.authenticator.models import PushChallenge
from vahva.bus import InProcessBus


async def _until_waiting(events: InProcessBus, count: int) -> None:
    # Let the waiting tasks run up to their first await (a scheduling yield, not a sleep).
    while events.waiting() < count:
        await asyncio.sleep(0)


def test_wait_is_woken_by_a_publish_from_another_thread() -> None:
    events = InProcessBus()

    async def scenario() -> list[str | None]:
        waits = [asyncio.create_task(events.wait("attempt-1", timeout=30)) for _ in range(3)]
        other = asyncio.create_task(events.wait("attempt-2", timeout=30))
        await _until_waiting(events, 4)
        publisher = threading.Thread(target=events.publish, args=("attempt-1", "approved"))
        publisher.start()
        results = await asyncio.gather(*waits)
        publisher.join()
        # Another attempt's waiter is not woken by it.
        assert not other.done()
        assert events.waiting() == 1
        events.publish("attempt-2", "denied")
        assert await other == "denied"
        return results

    assert asyncio.run(scenario()) == ["approved", "approved", "approved"]
    assert events.waiting() == 0


def test_timeout_returns_none_and_forgets_the_waiter() -> None:
    events = InProcessBus()
    assert asyncio.run(events.wait("attempt", timeout=0)) is None
    assert events.waiting() == 0


def test_publish_without_waiters_or_to_a_closed_loop() -> None:
    events = InProcessBus()
    events.publish("nobody", "approved")
    loop = asyncio.new_event_loop()

    async def listen() -> None:
        events.subscribe("gone")

    loop.run_until_complete(listen())
    loop.close()
    events.publish("gone", "approved")  # no error: that listener left with its loop
    assert events.waiting() == 1


def test_a_subscription_queues_what_is_published_before_it_reads() -> None:
    """Subscribe, then look at the database, then wait: an outcome published while looking is
    not lost (the reason waits subscribe first)."""
    events = InProcessBus()

    async def scenario() -> list[str | None]:
        listener = events.subscribe("attempt")
        events.publish("attempt", "approved")  # while the waiter reads the database
        events.publish("attempt", "denied")
        try:
            return [await listener.next(5), await listener.next(5), await listener.next(0)]
        finally:
            listener.close()

    assert asyncio.run(scenario()) == ["approved", "denied", None]
    assert events.waiting() == 0


class Recorder:
    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []

    def publish(self, key: str, outcome: str) -> None:
        self.published.append((key, outcome))

    async def wait(self, key: str, timeout: float) -> str | None:
        return None

    def subscribe(self, key: str) -> Any:
        raise NotImplementedError


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recording = Recorder()
    bus.install(recording)
    yield recording
    bus.install(None)


@pytest.mark.django_db
def test_answers_publish_after_commit(
    alice: Any,
    phone: TestDevice,
    push: Callable[..., PushChallenge],
    recorder: Recorder,
    django_capture_on_commit_callbacks: Any,
) -> None:
    challenge = push(alice, phone)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        phone.answer(phone.challenges()[0], "approve", challenge.number)
    assert recorder.published == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert recorder.published == [(str(challenge.attempt), "approved")]


def test_the_bus_says_whether_a_key_was_published_since_a_mark() -> None:
    """What a stream opening after its view's read asks: "look again?" is yes exactly when
    its own key was published (or everyone was told to look) after the read began."""
    events = InProcessBus()
    events.publish("attempt-1", "approved")  # before the read: the read saw it
    mark = events.mark()
    assert not events.changed_since("attempt-1", mark)
    events.publish("attempt-2", "approved")  # someone else's sign-in
    assert not events.changed_since("attempt-1", mark)
    events.publish("attempt-1", "denied")  # after the read began: the read may have missed it
    assert events.changed_since("attempt-1", mark)
    later = events.mark()
    assert not events.changed_since("attempt-1", later)
    events.publish_all("resync")  # publications may have been missed: everyone looks again
    assert events.changed_since("attempt-2", later)


def test_a_mark_older_than_the_bus_remembers_always_looks_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = InProcessBus()
    mark = events.mark()
    assert not events.changed_since("attempt-1", mark)
    now = bus.time.monotonic()
    monkeypatch.setattr(bus.time, "monotonic", lambda: now + bus.RECENT + 1)
    # The note of a publication that old may be gone: the bus cannot tell, so it says yes.
    assert events.changed_since("attempt-1", mark)
    # And old notes are dropped as new publications come: the memory stays bounded.
    events.publish("attempt-1", "approved")
    monkeypatch.setattr(bus.time, "monotonic", lambda: now + 3 * bus.RECENT)
    events.publish("attempt-2", "approved")
    assert list(events._recent) == ["attempt-2"]
