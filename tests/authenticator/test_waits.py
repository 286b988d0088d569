"""Event streams carried on outside Django (vahva.waits): the ASGI layer alone, with a stand-in
for Django, then the real stack under uvicorn: a browser waiting for its push hears the
approval at once, and a waiting stream holds no thread."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from django.core.asgi import get_asgi_application
from django.test import Client

from tests.authenticator.device import TestDevice
from tests.helpers import PASSWORD
from vahva import bus, waits
from vahva.authenticator.models import PushChallenge
from vahva.waits import WaitStreams

KEY = "attempt-1"


class Checked:
    """A checker whose answer the test sets; counts how often it was asked."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {"state": "pending"}
        self.final = False
        self.until: float | None = None
        self.calls = 0

    def __call__(self, argument: str) -> tuple[dict[str, Any], bool, float | None]:
        assert argument == "the-argument"
        self.calls += 1
        return dict(self.data), self.final, self.until


@pytest.fixture
def checked() -> Iterator[Checked]:
    bus.install(None)  # a fresh in-process bus
    checker = Checked()
    waits.register("test", checker)
    yield checker
    bus.install(None)
    waits.close_checks()


def fake_django(
    wait: bool = True,
    *,
    read: Checked | None = None,
    between: Callable[[], None] | None = None,
) -> Any:
    """What Django's ASGI handler sends for waits.event_stream: start, then the whole body.

    ``read``: the view's request read the state with this checker after the bus's mark, as
    :func:`waits.event_stream` does under ASGI. ``between``: runs after the view's read and
    before Django's body is sent (so before the stream subscribes)."""
    fields: dict[str, Any] = {
        "checker": "test",
        "argument": "the-argument",
        "key": KEY,
        "first": {"state": "pending"},
    }

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if read is not None:
            mark = bus.get().mark()
            data, final, until = read("the-argument")
            fields.update(data=data, final=final, until=until, mark=mark)
        headers = [(b"content-type", b"text/event-stream"), (b"content-length", b"27")]
        if wait:
            headers.append((b"x-vahva-wait", json.dumps(fields).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if between is not None:
            between()
        await send({"type": "http.response.body", "body": b'data: {"state":"pending"}\n\n'})

    return app


class Peer:
    """The client side of one ASGI request: what was sent, and a way to hang up."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.bodies: asyncio.Queue[bytes] = asyncio.Queue()
        self.gone = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if message.get("body"):
            self.bodies.put_nowait(bytes(message["body"]))

    async def next_body(self) -> bytes:
        """The next non-empty body (bounded wait)."""
        return await asyncio.wait_for(self.bodies.get(), timeout=10)

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"])


class CountingBus(bus.InProcessBus):
    """The in-process bus, telling the test each time a stream starts waiting on it."""

    def __init__(self) -> None:
        super().__init__()
        self.registered = threading.Condition()
        self.count = 0

    def subscribe(self, key: str) -> bus.LocalSubscription:
        listener = super().subscribe(key)
        with self.registered:
            self.count += 1
            self.registered.notify_all()
        return listener

    def until_waiting(self, count: int) -> None:
        with self.registered:
            assert self.registered.wait_for(lambda: self.count >= count, timeout=20)


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, timeout=20))


def test_the_stream_goes_on_after_django_and_ends_on_a_final_state(checked: Checked) -> None:
    async def scenario() -> Peer:
        peer = Peer()
        task = asyncio.ensure_future(
            WaitStreams(fake_django())({"type": "http"}, peer.receive, peer.send)
        )
        assert b'"pending"' in await peer.next_body()  # Django's first event
        # The internal header and the length of Django's body are not sent.
        assert b"x-vahva-wait" not in peer.headers
        assert b"content-length" not in peer.headers
        assert peer.sent[1]["more_body"] is True
        while bus.get().waiting() == 0:
            await asyncio.sleep(0)
        checked.data, checked.final = {"state": "approved"}, True
        bus.get().publish(KEY, "approved")
        assert json.loads((await peer.next_body()).removeprefix(b"data: ")) == {"state": "approved"}
        await task
        return peer

    peer = run(scenario())
    assert peer.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert bus.get().waiting() == 0  # nothing left behind
    # Looked once after registering on the bus, once when woken.
    assert checked.calls == 2


def test_an_outcome_published_before_the_stream_listens_is_not_lost(checked: Checked) -> None:
    """The view read "pending", then the phone answered before the stream was on the bus:
    the stream's own first look finds the answer."""
    checked.data, checked.final = {"state": "denied"}, True

    async def scenario() -> Peer:
        peer = Peer()
        await WaitStreams(fake_django())({"type": "http"}, peer.receive, peer.send)
        return peer

    peer = run(scenario())
    bodies = [m.get("body", b"") for m in peer.sent[1:]]
    assert bodies == [b'data: {"state":"pending"}\n\n', b'data: {"state":"denied"}\n\n', b""]
    assert checked.calls == 1


def test_a_stream_begun_with_the_views_read_reads_again_only_when_told(
    checked: Checked,
) -> None:
    """A thousand streams opening at once cost no second read each: the view's read is the
    state until the bus says "look again", and then the state sent is the database's (the
    checker's), never the bus message's."""

    async def scenario() -> Peer:
        peer = Peer()
        task = asyncio.ensure_future(
            WaitStreams(fake_django(read=checked))({"type": "http"}, peer.receive, peer.send)
        )
        assert b'"pending"' in await peer.next_body()
        while bus.get().waiting() == 0:
            await asyncio.sleep(0)
        assert checked.calls == 1  # the view's read only
        # The bus says "approved"; the database says the request was denied: the browser is
        # told what the database says.
        checked.data, checked.final = {"state": "denied"}, True
        bus.get().publish(KEY, "approved")
        assert json.loads((await peer.next_body()).removeprefix(b"data: ")) == {"state": "denied"}
        await task
        return peer

    run(scenario())
    assert checked.calls == 2


def test_an_outcome_published_between_the_views_read_and_the_subscription_is_not_lost(
    checked: Checked,
) -> None:
    """The view read "pending"; the phone's answer was committed and published before the
    stream was on the bus. The bus remembers the key was published since the view's mark, so
    the stream reads again and the browser hears the answer."""

    def answered() -> None:
        checked.data, checked.final = {"state": "approved"}, True
        bus.get().publish(KEY, "approved")  # nobody listens yet

    async def scenario() -> Peer:
        peer = Peer()
        app = fake_django(read=checked, between=answered)
        await WaitStreams(app)({"type": "http"}, peer.receive, peer.send)
        return peer

    peer = run(scenario())
    bodies = [m.get("body", b"") for m in peer.sent[1:]]
    assert bodies == [b'data: {"state":"pending"}\n\n', b'data: {"state":"approved"}\n\n', b""]
    assert checked.calls == 2


def test_the_views_read_carries_its_deadline(checked: Checked) -> None:
    """No publication when a push times out: the deadline read by the view wakes the stream,
    which reads again and tells the browser."""
    now = time.time()
    checked.until = now

    def expired() -> None:  # after the view's read, nothing published
        checked.data, checked.final, checked.until = {"state": "expired"}, True, None

    async def scenario() -> None:
        peer = Peer()
        app = fake_django(read=checked, between=expired)
        task = asyncio.ensure_future(
            WaitStreams(app, clock=lambda: now + 1)({"type": "http"}, peer.receive, peer.send)
        )
        assert b'"pending"' in await peer.next_body()
        assert b'"expired"' in await peer.next_body()
        await task

    run(scenario())
    assert checked.calls == 2


def test_a_hang_up_ends_the_wait(checked: Checked) -> None:
    async def scenario() -> None:
        peer = Peer()
        task = asyncio.ensure_future(
            WaitStreams(fake_django())({"type": "http"}, peer.receive, peer.send)
        )
        await peer.next_body()
        while bus.get().waiting() == 0:
            await asyncio.sleep(0)
        peer.gone.set()
        await task

    run(scenario())
    assert bus.get().waiting() == 0


def test_the_state_is_looked_at_again_when_it_expires(checked: Checked) -> None:
    """No publication when a push times out: the stream looks again at its deadline."""
    now = time.time()
    checked.until = now  # expires at once; the stream wakes 0.25 s after
    clock = iter([now, now, now, now + 1, now + 1, now + 1, now + 1, now + 1])

    def fake_time() -> float:
        return next(clock, now + 1)

    async def scenario() -> Peer:
        peer = Peer()
        task = asyncio.ensure_future(
            WaitStreams(fake_django(), clock=fake_time)({"type": "http"}, peer.receive, peer.send)
        )
        await peer.next_body()
        checked.data, checked.final, checked.until = {"state": "expired"}, True, None
        assert b'"expired"' in await peer.next_body()
        await task
        return peer

    run(scenario())


def test_looks_at_the_database_reuse_a_few_connections(transactional_db: Any) -> None:
    """Each notification is a look at the database from a check thread: a few threads, each
    keeping its connection, not a new connection (and thread) per look."""
    from django.db import connection
    from django.db.backends.signals import connection_created

    from vahva.accounts.models import User

    opened: list[str] = []

    def count(sender: Any, **kwargs: Any) -> None:
        opened.append(threading.current_thread().name)

    def people(argument: str) -> tuple[dict[str, Any], bool, float | None]:
        return (
            {"people": User.objects.count(), "thread": threading.current_thread().name},
            False,
            None,
        )

    waits.register("people", people)
    connection_created.connect(count)

    async def looks() -> list[dict[str, Any]]:
        answers = []
        for _ in range(3):  # three notifications in a row to each of twelve streams
            answers += await asyncio.gather(*(waits.check("people", "") for _ in range(12)))
        return [data for data, _final, _until in answers]

    try:
        seen = run(looks())
    finally:
        connection_created.disconnect(count)
        waits.close_checks()
    assert [data["people"] for data in seen] == [0] * 36
    threads = {data["thread"] for data in seen}
    assert len(threads) <= waits.CHECK_THREADS
    assert all(name.startswith("vahva-wait") for name in threads)
    # One connection per check thread at most (SQLite; PostgreSQL's pool lends its own).
    if connection.vendor == "sqlite":
        assert 1 <= len(opened) <= waits.CHECK_THREADS


def test_a_burst_of_stream_openings_enters_django_a_few_at_a_time(checked: Checked) -> None:
    """Thirty browsers reconnect at once (a node restarted): at most OPENING of them are in
    Django at a time, the rest wait in the event loop (no thread each); a sign-in arriving
    meanwhile is not queued behind them; every stream gets its events."""
    release = asyncio.Event()
    stream_app = fake_django()

    async def django(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/events":
            await release.wait()  # the view is running: a request thread is held
            await stream_app(scope, receive, send)
        else:
            await fake_django(wait=False)(scope, receive, send)

    events = [(b"accept", b"text/event-stream")]

    async def scenario() -> list[Peer]:
        app = WaitStreams(django)
        peers = [Peer() for _ in range(30)]
        tasks = [
            asyncio.ensure_future(
                app({"type": "http", "path": "/events", "headers": events}, p.receive, p.send)
            )
            for p in peers
        ]
        for _ in range(1000):
            await asyncio.sleep(0)
        assert app.in_django == waits.OPENING
        # A sign-in's request goes straight in.
        signin = Peer()
        await asyncio.wait_for(
            app({"type": "http", "path": "/signin/", "headers": []}, signin.receive, signin.send),
            5,
        )
        assert len(signin.sent) == 2
        release.set()
        for peer in peers:
            assert b'"pending"' in await peer.next_body()
        while bus.get().waiting() < 30:
            await asyncio.sleep(0)
        checked.data, checked.final = {"state": "approved"}, True
        bus.get().publish(KEY, "approved")
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert app.most_in_django == waits.OPENING
        return peers

    for peer in run(scenario()):
        assert b'"approved"' in peer.sent[-2]["body"]


def test_responses_without_a_wait_pass_untouched(checked: Checked) -> None:
    async def scenario() -> Peer:
        peer = Peer()
        await WaitStreams(fake_django(wait=False))({"type": "http"}, peer.receive, peer.send)
        return peer

    peer = run(scenario())
    assert len(peer.sent) == 2
    assert peer.headers[b"content-length"] == b"27"
    assert "more_body" not in peer.sent[1]
    assert checked.calls == 0


# --- the real stack --------------------------------------------------------------------------


class Served(uvicorn.Server):
    """uvicorn in a thread of the test process (same database, same bus, same clock)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.up = threading.Event()

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        self.up.set()


@pytest.fixture
def counting_bus() -> Iterator[CountingBus]:
    counting = CountingBus()
    bus.install(counting)
    yield counting
    bus.install(None)


@pytest.fixture
def asgi_url(transactional_db: Any, settings: Any, counting_bus: CountingBus) -> Iterator[str]:
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
    app = WaitStreams(get_asgi_application())
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = Served(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert server.up.wait(timeout=30), "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    # The check threads' connections belong to this test's database.
    waits.close_checks()


def signed_in_browser(base: str) -> tuple[httpx.Client, str]:
    """A browser that has given Alice's password and waits at the push; the events URL."""
    browser = httpx.Client(base_url=base, timeout=10)
    page = browser.get("/signin/")
    token = browser.cookies["csrftoken"]
    answer = browser.post(
        "/signin/",
        data={"email": "alice@example.org", "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": base + "/signin/"},
    )
    assert answer.status_code == 302, page.text[:200]
    assert answer.headers["location"] == "/signin/verify/"
    page = browser.get("/signin/verify/")
    assert "Approve the sign-in request in the vahva app" in page.text
    events = page.text.split('data-events="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    return browser, events


def events_of(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.startswith("data: "):
            yield json.loads(line.removeprefix("data: "))


def test_the_browser_hears_the_approval_over_uvicorn(
    asgi_url: str, alice: Any, phone: TestDevice, clock: Any
) -> None:
    browser, events = signed_in_browser(asgi_url)
    with browser.stream("GET", events) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert "x-vahva-wait" not in stream.headers
        received = events_of(stream.iter_lines())
        assert next(received) == {"state": "pending"}
        push = PushChallenge.objects.get(purpose="signin")
        assert phone.approve_only(push.number).status_code == 200
        assert next(received) == {"state": "approved"}
        # The stream ends by itself after a final state.
        assert list(received) == []
    browser.close()
    assert bus.get().waiting() == 0


def test_waiting_streams_hold_no_thread(
    asgi_url: str,
    alice: Any,
    phone: TestDevice,
    clock: Any,
    counting_bus: CountingBus,
    settings: Any,
) -> None:
    """Twenty browsers waiting at once: the process has (about) as many threads as with one."""
    # Twenty of Alice's sign-ins wait at once only with her allowance of requests raised.
    settings.VAHVA = {**settings.VAHVA, "PUSH_MAX_OPEN": 20, "PUSH_MAX_PER_WINDOW": 20}
    browsers = [signed_in_browser(asgi_url) for _ in range(20)]
    streams = []
    try:
        before = threading.active_count()
        for browser, events in browsers:
            stream = browser.stream("GET", events)
            response = stream.__enter__()
            received = events_of(response.iter_lines())
            # Kept: dropping the line iterator would close the response.
            streams.append((stream, received))
            assert next(received) == {"state": "pending"}
        # Each stream is registered on the bus and waits there...
        counting_bus.until_waiting(20)
        assert counting_bus.waiting() == 20
        # ...and Django's thread for its request is gone (a small pool may remain).
        assert threading.active_count() - before < 5
    finally:
        for stream, _received in streams:
            stream.__exit__(None, None, None)
        for browser, _events in browsers:
            browser.close()


def test_under_wsgi_the_stream_is_one_event_and_a_retry(
    client: Client, alice: Any, phone: TestDevice, clock: Any
) -> None:
    client.post("/signin/", {"email": "alice@example.org", "password": PASSWORD})
    client.get("/signin/verify/")
    response = client.get("/signin/verify/events/")
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-store"
    assert not response.has_header(waits.HEADER)
    assert response.content == b'retry: 2000\ndata: {"state":"pending"}\n\n'


def test_an_open_app_hears_new_requests_and_answers_elsewhere(
    asgi_url: str, alice: Any, make_phone: Any, push: Any, clock: Any
) -> None:
    """The device's own stream (signed, read with fetch in the app): a new request shows up at
    once, and disappears when another device of the person answers it."""
    phone, tablet = make_phone(alice, "Phone"), make_phone(alice, "Tablet")
    path = "/api/device/v1/events"
    with httpx.Client(base_url=asgi_url, timeout=10) as app:
        refused = app.get(path, headers={**tablet.headers("GET", path), "Vahva-Signature": "x"})
        assert refused.status_code == 401
        assert refused.json()["error"] == "bad_signature"
        with app.stream("GET", path, headers=tablet.headers("GET", path)) as stream:
            received = events_of(stream.iter_lines())
            assert next(received) == {"pending": []}
            challenge = push(alice, phone, tablet)
            assert next(received) == {"pending": [str(challenge.pk)]}
            (request,) = phone.challenges()
            assert phone.answer(request, "approve", challenge.number).status_code == 200
            assert next(received) == {"pending": []}
