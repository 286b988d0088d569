"""Fire N requests at once from threads, each with its own database connection (the race
tests of every reserve-first limit use it)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from django.db import connection
from django.test import Client

T = TypeVar("T")

#: Seconds a race may take before the test fails instead of hanging.
DEADLINE = 120.0


def needs_shared_database() -> None:
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(":memory"):
        pytest.skip("needs a database shared between threads")


def at_once(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(0..count-1)`` in ``count`` threads released together by a barrier; each
    thread opens its own connection (Django's are per thread) and closes it after."""
    barrier = threading.Barrier(count)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            barrier.wait(timeout=DEADLINE)
            results[number] = work(number)
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DEADLINE)
    assert not any(thread.is_alive() for thread in threads), "a request did not finish"
    if errors:
        raise errors[0]
    return [results[n] for n in range(count)]


def browser_like(client: Client, **defaults: Any) -> Client:
    """Another Client with ``client``'s cookies: the same browser session, another request."""
    twin = Client(**defaults)
    twin.cookies = client.cookies.__class__(client.cookies)
    return twin


def count_checks(monkeypatch: pytest.MonkeyPatch, kind: str) -> list[str]:
    """The answers that reach ``kind``'s verifier, recorded from every thread."""
    from vahva.methods import registry

    cls = type(registry.get(kind))
    real = cls.verify
    reached: list[str] = []

    def verify(self: Any, registered: Any, response: str, *, now: Any) -> None:
        reached.append(response)
        real(self, registered, response, now=now)

    monkeypatch.setattr(cls, "verify", verify)
    return reached


class Counting:
    """A wrapper that counts the calls reaching a verifier (thread-safe: list.append)."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.calls: list[object] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(args)
        return self.real(*args, **kwargs)
