"""`vahva serve`'s handler runs a sync view's request in one hop to the request's thread,
through the same middleware, and an async view through Django's async chain."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from django.core import signals
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from vahva.web.handler import ReusingASGIHandler, takes_sync_chain

seen: dict[str, Any] = {}


def sync_view(request: HttpRequest) -> HttpResponse:
    seen["view_thread"] = threading.get_ident()
    return JsonResponse({"user": str(request.user), "ip": request.client_ip})  # type: ignore[attr-defined]


async def async_view(request: HttpRequest) -> HttpResponse:
    seen["async_thread"] = threading.get_ident()
    return HttpResponse("async")


def broken_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


urlpatterns = [
    path("sync/", sync_view),
    path("async/", async_view),
    path("broken/", broken_view),
]


def scope(where: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": where,
        "raw_path": where.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


def call(handler: ReusingASGIHandler, where: str) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def go() -> None:
        given = False

        async def receive() -> dict[str, Any]:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # never disconnects
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await handler(scope(where), receive, send)

    asyncio.run(go())
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], dict(start["headers"]), body


@pytest.fixture
def handler(settings: Any, transactional_db: Any) -> Any:
    settings.ROOT_URLCONF = __name__
    settings.ALLOWED_HOSTS = ["testserver"]
    built = ReusingASGIHandler(keep=1)
    started: list[int] = []
    finished: list[int] = []

    def on_start(**kwargs: Any) -> None:
        started.append(threading.get_ident())

    def on_finish(**kwargs: Any) -> None:
        finished.append(threading.get_ident())

    signals.request_started.connect(on_start)
    signals.request_finished.connect(on_finish)
    seen.clear()
    seen.update(started=started, finished=finished)
    yield built
    signals.request_started.disconnect(on_start)
    signals.request_finished.disconnect(on_finish)
    built.threads.close()


def test_a_sync_view_runs_with_the_whole_chain_in_the_requests_thread(handler: Any) -> None:
    assert takes_sync_chain("/sync/")
    status, headers, body = call(handler, "/sync/")
    assert status == 200
    assert body == b'{"user": "AnonymousUser", "ip": "127.0.0.1"}'
    # The middleware ran: the request id, the security headers, the session's user.
    assert headers[b"X-Request-ID"]
    assert b"default-src 'self'" in headers[b"Content-Security-Policy"]
    assert headers[b"X-Frame-Options"] == b"DENY"
    # The connection's checks at the start and end ran in the view's thread (its connection),
    # once each.
    assert seen["started"] == [seen["view_thread"]]
    assert seen["finished"] == [seen["view_thread"]]
    assert seen["view_thread"] != threading.get_ident()


def test_an_async_view_takes_djangos_async_chain(handler: Any) -> None:
    assert not takes_sync_chain("/async/")
    status, headers, body = call(handler, "/async/")
    assert (status, body) == (200, b"async")
    assert headers[b"X-Frame-Options"] == b"DENY"
    assert len(seen["finished"]) == 1


def test_a_failing_view_is_a_500_with_the_headers_and_unknown_paths_a_404(handler: Any) -> None:
    status, headers, _body = call(handler, "/broken/")
    assert status == 500
    assert headers[b"X-Request-ID"]
    status, headers, _body = call(handler, "/nothing-here/")
    assert status == 404
    assert b"default-src 'self'" in headers[b"Content-Security-Policy"]
