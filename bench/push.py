"""Push sign-in: approve on the phone -> the waiting browser notified; what waiting costs.

Budgets (DESIGN.md §9): with 1,000 concurrent waiting sign-ins, approve -> browser notified
p99 < 50 ms; 10,000 pending waits in < 500 MB RSS of the server process.

Set-up: a throwaway vahva (as in bench/signin.py) with ``--waits`` people, each with one
active vahva-app device enrolled through the authenticator room's own functions (enrolment
link, device key, test notification approved with its number, method saved). ``vahva serve``
runs pinned to one core; this process is the load generator on the other. Every person signs
in over HTTP as a browser does (password form with CSRF, then GET /signin/verify/, which sends
the push and shows the number), with a few concurrent clients.

Phases, each with a timeout of its own:

1. memory: ``--memory-waits`` event streams (GET /signin/verify/events/?method=<id>, the
   waiting page's EventSource), spread over the signed-in browsers, opened and left waiting.
   The server's VmRSS, VmHWM, threads and open fds before, while waiting, and after closing.
2. latency: one stream per browser, all opened at once (with two nodes ``--connecting`` at a
   time); what opening them cost (streams/s, CPU per stream, the highest threads and VmRSS
   while they opened, against the memory budget scaled to their number). When every stream
   has its first event, the phones approve one by one (``--concurrency`` at a time) through
   the signed device API, with the challenge's id and nonce fetched from /pending beforehand.
   Timed: the send of the approval -> the browser's ``approved`` event, and the approval's
   round trip.

With ``--nodes 2``, two ``vahva serve`` processes share one database and one Redis, all
started here on loopback and stopped by their pids: a throwaway PostgreSQL
(tests/postgres_server.py) when one is installed, else the SQLite file in WAL mode
(``--database`` chooses), and a ``redis-server`` (``REDIS_URL``, the event bus). The browsers
sign in and wait on node A; the phones read /pending from and answer to node B, so every
notification crosses from B to A through Redis. Both nodes' RSS is shown. One node runs on
its own SQLite file unless ``--database postgresql`` is given.

    .venv/bin/python bench/push.py [--waits N] [--memory-waits N] [--concurrency K]
                                   [--connecting N] [--clients N] [--quick] [--nodes 1|2|1,2]
                                   [--database auto|postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import html
import json
import math
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from _common import (
    LOOPBACK,
    PASSWORD,
    BenchError,
    Service,
    begin_run,
    expect,
    fd_limit,
    free_port,
    open_fds,
    password_step,
    percentile,
    pin,
    proc_status,
    process_cpu_seconds,
    raise_nofile,
    shared_database,
    start_server,
    stop_server,
    throwaway_redis,
    throwaway_vahva,
    usable_cpus,
    wait_until_up,
)
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

#: The budgets of DESIGN.md §9.
LATENCY_GOAL = 0.050
MEMORY_GOAL = 500 * 10**6  # bytes: "500 MB", decimal, the stricter reading
API = "/api/device/v1"
#: Raised in the throwaway configuration: pushes sent at the start of the set-up must still be
#: pending at the end of it (the default, 60 s, is shorter than signing 1,000 people in).
PUSH_TTL = 900
#: Approvals before the timed ones (the first answer through the device API loads code).
WARM_UP = 5
#: Streams connecting at once in the memory phase (default of --connecting): browsers arrive
#: spread out, and each request in flight in Django has a thread of its own.
CONNECTING = 50

_NUMBER = re.compile(rb'id="push-number">\s*(\d+)\s*<')
_EVENTS = re.compile(rb'data-events="([^"]+)"')


# -- the phone: signed device requests (src/vahva/authenticator/protocol.py) -------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Phone:
    """One enrolled vahva app: its device id and private key."""

    device: str
    key: ec.EllipticCurvePrivateKey

    def headers(self, method: str, path: str, body: bytes, timestamp: int) -> dict[str, str]:
        """The four Vahva-* headers, signed as WebCrypto does (P1363 r || s)."""
        nonce = secrets.token_urlsafe(18)
        lines = ["vahva-device-v1", self.device, method, path, str(timestamp), nonce]
        message = "\n".join([*lines, hashlib.sha256(body).hexdigest()]).encode()
        r, s = decode_dss_signature(self.key.sign(message, ec.ECDSA(hashes.SHA256())))
        return {
            "Vahva-Device": self.device,
            "Vahva-Timestamp": str(timestamp),
            "Vahva-Nonce": nonce,
            "Vahva-Signature": b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big")),
        }


@dataclass
class Browser:
    """A signed-in browser waiting on /signin/verify/, and the phone it waits for."""

    email: str
    phone: Phone
    cookie: str = ""
    number: int = 0
    events: str = ""
    challenge: str = ""
    nonce: str = ""


def make_push_people(count: int, *, registered_at: dt.datetime) -> list[Browser]:
    """``count`` people, each with one active vahva-app device, enrolled as the app does.

    The password hash is shared, as in ``_common.make_people``. Each device goes through the
    enrolment link, ``enrol_device`` with a fresh P-256 key, the test notification approved
    with its number by ``answer``, and ``finish_enrolment``, which saves the method.
    """
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from vahva.accounts.models import User, normalise_email
    from vahva.authenticator import service as authenticator
    from vahva.methods import registry

    method = registry.get("app_push")
    encoded = make_password(PASSWORD)
    people = []
    with transaction.atomic():
        users = User.objects.bulk_create(
            [
                User(
                    email=normalise_email(f"push{i:06d}@bench.example"),
                    full_name=f"Bench {i}",
                    password=encoded,
                )
                for i in range(count)
            ]
        )
        for user in users:
            key = ec.generate_private_key(ec.SECP256R1())
            pending = method.start_enrolment(user, now=registered_at)
            device, test = authenticator.enrol_device(
                code=pending.secret,
                public_key=key.public_key(),
                name="Bench phone",
                now=registered_at,
            )
            authenticator.answer(
                device,
                challenge=test.pk,
                nonce=test.nonce,
                decision="approve",
                number=test.number,
                now=registered_at,
            )
            method.finish_enrolment(pending, test.pk.hex, now=registered_at)
            people.append(Browser(user.email, Phone(str(device.pk), key)))
    return people


# -- set-up: sign everyone in over HTTP -----------------------------------------------------


def sign_in(client: httpx.Client, browser: Browser) -> None:
    """Password, then the waiting page: the push is sent and its number shown."""
    client.cookies.clear()
    page = password_step(client, browser.email)
    number, events = _NUMBER.search(page.content), _EVENTS.search(page.content)
    if not number or not events:
        raise BenchError(f"{browser.email}: no push number or events URL on /signin/verify/")
    browser.number = int(number.group(1))
    browser.events = html.unescape(events.group(1).decode())
    browser.cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)


def sign_in_all(base_url: str, browsers: list[Browser], *, clients: int, timeout: float) -> float:
    """Sign every browser in with ``clients`` threads; the seconds it took."""
    todo = iter(browsers)
    lock = threading.Lock()
    problems: list[str] = []
    deadline = time.perf_counter() + timeout

    def worker() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while time.perf_counter() < deadline and not problems:
                with lock:
                    browser = next(todo, None)
                if browser is None:
                    return
                try:
                    sign_in(client, browser)
                except (BenchError, httpx.HTTPError) as exc:
                    problems.append(f"{browser.email}: {exc!r}")

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(1.0, deadline - time.perf_counter() + 5))
    if problems:
        raise BenchError(f"sign-in failed: {problems[0]}")
    if any(not browser.events for browser in browsers):
        raise BenchError(f"the sign-ins did not finish within {timeout:.0f} s")
    return time.perf_counter() - start


# -- a browser's EventSource, on raw asyncio sockets --------------------------------------------


class Stream:
    """One GET of an event stream, read as EventSource would: states and when they came."""

    def __init__(self, port: int, browser: Browser) -> None:
        loop = asyncio.get_running_loop()
        self.port = port
        self.browser = browser
        #: perf_counter() when the first event / the "approved" event was read.
        self.first: asyncio.Future[float] = loop.create_future()
        self.approved: asyncio.Future[float] = loop.create_future()
        self.states: list[str] = []
        self.ended = False
        self.sse = b""
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.ensure_future(self._run())

    def _fail(self, exc: BaseException) -> None:
        for future in (self.first, self.approved):
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning at exit

    async def _run(self) -> None:
        try:
            reader, self.writer = await asyncio.open_connection(LOOPBACK, self.port)
            self.writer.write(
                (
                    f"GET {self.browser.events} HTTP/1.1\r\n"
                    f"Host: {LOOPBACK}:{self.port}\r\n"
                    "Accept: text/event-stream\r\nCache-Control: no-cache\r\n"
                    f"Cookie: {self.browser.cookie}\r\n\r\n"
                ).encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status, *lines = head.decode("latin-1").split("\r\n")
            if status.split()[1:2] != ["200"]:
                raise BenchError(f"event stream answered {status!r}")
            headers = dict(
                (name.strip().lower(), value.strip())
                for name, _, value in (line.partition(":") for line in lines if line)
            )
            if "chunked" in headers.get("transfer-encoding", ""):
                await self._chunked(reader)
            else:
                length = headers.get("content-length")
                self._feed(await (reader.readexactly(int(length)) if length else reader.read()))
        except (OSError, asyncio.IncompleteReadError, BenchError, ValueError) as exc:
            self._fail(exc)
        finally:
            self.ended = True
            self._fail(BenchError(f"the stream ended after {self.states}"))

    async def _chunked(self, reader: asyncio.StreamReader) -> None:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                return
            self._feed((await reader.readexactly(size + 2))[:-2])

    def _feed(self, data: bytes) -> None:
        buffer = self.sse + data
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            for line in event.split(b"\n"):
                if line.startswith(b"data:"):
                    self._event(json.loads(line[5:])["state"])
        self.sse = buffer

    def _event(self, state: str) -> None:
        now = time.perf_counter()
        self.states.append(state)
        if not self.first.done():
            self.first.set_result(now)
        if state == "approved" and not self.approved.done():
            self.approved.set_result(now)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                await asyncio.wait_for(self.writer.wait_closed(), 5)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


async def open_streams(
    port: int, browsers: list[Browser], *, at_once: int, timeout: float
) -> tuple[list[Stream], float]:
    """A stream per browser, at most ``at_once`` connecting at a time; each has had its first
    event when this returns. The streams and the seconds it took."""
    gate = asyncio.Semaphore(at_once)
    streams: list[Stream] = []

    async def one(browser: Browser) -> None:
        async with gate:
            stream = Stream(port, browser)
            streams.append(stream)
            stream.start()
            await stream.first

    start = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(one(b) for b in browsers)), timeout)
    except BaseException:
        await close_streams(streams)
        raise
    return streams, time.perf_counter() - start


async def close_streams(streams: list[Stream]) -> None:
    await asyncio.gather(*(stream.close() for stream in streams))


class Sampler:
    """The server's threads and VmRSS, highest seen, sampled every 20 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.threads = 0
        self.rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            with contextlib.suppress(OSError):
                status = proc_status(self.pid)
                self.threads = max(self.threads, status["Threads"])
                self.rss = max(self.rss, status["VmRSS"])

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def snapshot(pid: int) -> dict[str, int]:
    return {**proc_status(pid), "fds": open_fds(pid)}


def show(label: str, status: dict[str, int]) -> str:
    return (
        f"  {label:<34} VmRSS {status['VmRSS'] / 1024:7.1f} MiB   VmHWM "
        f"{status['VmHWM'] / 1024:7.1f} MiB   threads {status['Threads']:3d}   "
        f"open fds {status['fds']:6d}"
    )


# -- the servers --------------------------------------------------------------------------------


@dataclass
class Node:
    """One ``vahva serve`` process: "server" with one node, "node A" / "node B" with two."""

    name: str
    port: int
    cpu: int | None
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise BenchError(f"{self.name} is not running")
        return self.process.pid


@dataclass
class Nodes:
    """Where the browsers sign in and wait (node A) and where the phones answer (node B),
    or the one server for both; with two nodes, the Redis between them."""

    browsers: Node
    phones: Node
    redis: Service | None = None

    @property
    def two(self) -> bool:
        return self.phones is not self.browsers

    @property
    def all(self) -> list[Node]:
        return [self.browsers, self.phones] if self.two else [self.browsers]

    def label(self, node: Node, text: str) -> str:
        """A line's label: as it always was with one node; the node's name first with two."""
        return f"{node.name}: {text}" if self.two else text

    def cpu_seconds(self) -> dict[str, float]:
        return {node.name: process_cpu_seconds(node.pid) for node in self.all}

    def publications(self) -> int:
        """How many PUBLISH commands Redis has run so far (0 without Redis)."""
        if self.redis is None:
            return 0
        with redis.Redis.from_url(self.redis.url, socket_timeout=5) as client:
            stats = client.info("commandstats")
        return int(stats.get("cmdstat_publish", {}).get("calls", 0))

    def redis_rss(self) -> int:
        """Redis's VmRSS in KiB (0 without Redis)."""
        return proc_status(self.redis.pid)["VmRSS"] if self.redis else 0


# -- phase 1: memory ----------------------------------------------------------------------------


@dataclass
class MemoryFigures:
    waits: int = 0
    per_browser: int = 0
    connecting: int = 0
    before: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)
    later: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    open_seconds: float = 0.0
    peak_threads: int = 0
    server_cpu: float = 0.0
    still_open: int = 0
    #: Two nodes: node B's status while A's waits are open, and Redis's VmRSS (KiB) before
    #: they opened and while they wait.
    phones: dict[str, int] = field(default_factory=dict)
    redis_before: int = 0
    redis_waiting: int = 0


async def memory_phase(
    nodes: Nodes,
    browsers: list[Browser],
    *,
    waits: int,
    connecting: int,
    settle: float,
    timeout: float,
) -> MemoryFigures:
    port, pid = nodes.browsers.port, nodes.browsers.pid
    figures = MemoryFigures(
        waits=waits, per_browser=math.ceil(waits / len(browsers)), connecting=connecting
    )
    targets = [browsers[i % len(browsers)] for i in range(waits)]
    figures.before = snapshot(pid)
    figures.redis_before = nodes.redis_rss()
    cpu = process_cpu_seconds(pid)
    with Sampler(pid) as sampler:
        streams, figures.open_seconds = await open_streams(
            port, targets, at_once=connecting, timeout=timeout
        )
    figures.server_cpu = process_cpu_seconds(pid) - cpu
    figures.peak_threads = sampler.threads
    try:
        figures.waiting = snapshot(pid)
        # Waiting a while longer: nothing should move (a heartbeat is due every 15 s).
        await asyncio.sleep(settle)
        figures.later = snapshot(pid)
        if nodes.two:
            figures.phones = snapshot(nodes.phones.pid)
            figures.redis_waiting = nodes.redis_rss()
        figures.still_open = sum(1 for s in streams if not s.ended and s.states == ["pending"])
    finally:
        await close_streams(streams)
    # The server notices the closed sockets on its loop; give it time to let them go.
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline and open_fds(pid) > figures.before["fds"] + 5:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    figures.after = snapshot(pid)
    return figures


def report_memory(figures: MemoryFigures, browsers: int, nodes: Nodes) -> None:
    node = nodes.browsers
    print(
        f"\nmemory: {figures.waits} pending waits = {figures.per_browser} event streams per "
        f"signed-in browser over {browsers} sign-ins; each stream is a wait of its own (a "
        "socket, a bus subscription, the ASGI state)"
    )
    print(
        f"  opened in {figures.open_seconds:.1f} s ({figures.waits / figures.open_seconds:.0f}"
        f"/s, at most {figures.connecting} connecting at once), {node.name} CPU "
        f"{1000 * figures.server_cpu / figures.waits:.2f} ms per stream opened"
    )
    print(show(nodes.label(node, "before opening"), figures.before))
    print(show(nodes.label(node, f"{figures.waits} waiting"), figures.waiting))
    print(show(nodes.label(node, f"{figures.waits} waiting, 10 s later"), figures.later))
    print(show(nodes.label(node, "after closing them"), figures.after))
    if nodes.two:
        label = nodes.label(nodes.phones, f"while A has {figures.waits} waiting")
        print(show(label, figures.phones))
    grown = figures.later["VmRSS"] - figures.before["VmRSS"]
    per_wait = grown / figures.waits
    total = figures.later["VmRSS"] * 1024
    print(
        f"  RSS per wait: {per_wait:.1f} KiB; threads while waiting {figures.later['Threads']} "
        f"(before {figures.before['Threads']}, highest while opening {figures.peak_threads}); "
        f"{figures.still_open} of {figures.waits} streams still open and pending before closing"
    )
    scaled = figures.before["VmRSS"] * 1024 + per_wait * 1024 * 10_000
    print(
        f"  budget: 10,000 waits in < 500 MB: {node.name} RSS {total / 1e6:.0f} MB with "
        f"{figures.waits} waits = {total / MEMORY_GOAL:.2f} of the budget"
        + (
            f"; scaled to 10,000 waits {scaled / 1e6:.0f} MB = {scaled / MEMORY_GOAL:.2f}"
            if figures.waits != 10_000
            else ""
        )
    )
    if nodes.two:
        phones = figures.phones["VmRSS"] * 1024
        print(
            f"  {nodes.phones.name} (no waits, the phones' node) RSS {phones / 1e6:.0f} MB = "
            f"{phones / MEMORY_GOAL:.2f} of the budget; Redis VmRSS "
            f"{figures.redis_before / 1024:.1f} MiB before A's waits opened, "
            f"{figures.redis_waiting / 1024:.1f} MiB with them"
        )


# -- phase 2: latency ---------------------------------------------------------------------------


async def fetch_challenges(base_url: str, browsers: list[Browser], *, clients: int) -> list[float]:
    """Each phone's waiting sign-in request, from /pending, as the app reads it on a push;
    the round trips."""
    todo = iter(browsers)
    round_trips: list[float] = []

    async def worker(client: httpx.AsyncClient) -> None:
        for browser in todo:
            path = f"{API}/pending"
            headers = browser.phone.headers("GET", path, b"", int(time.time()))
            sent = time.perf_counter()
            answer = await client.get(path, headers=headers)
            round_trips.append(time.perf_counter() - sent)
            expect(answer, 200)
            waiting = [c for c in answer.json()["challenges"] if c["purpose"] == "signin"]
            if len(waiting) != 1:
                raise BenchError(f"{browser.email}: {len(waiting)} sign-in requests pending")
            browser.challenge, browser.nonce = waiting[0]["id"], waiting[0]["nonce"]

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(clients)))
    return round_trips


@dataclass
class LatencyFigures:
    waits: int = 0
    concurrency: int = 1
    #: Streams connecting at once: all of them with one node, --connecting with two.
    opening: int = 0
    open_seconds: float = 0.0
    #: While the streams opened: the node's CPU seconds, its highest thread count and VmRSS
    #: (KiB), and its status just before.
    open_cpu: float = 0.0
    open_threads: int = 0
    open_rss: int = 0
    before: dict[str, int] = field(default_factory=dict)
    notified: list[float] = field(default_factory=list)
    round_trips: list[float] = field(default_factory=list)
    warm_up: list[float] = field(default_factory=list)
    #: The signed GET /pending before the streams open, one at a time: a device-API floor.
    pending: list[float] = field(default_factory=list)
    pending_cpu: float = 0.0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: CPU seconds of each node (by name) over the timed approvals.
    server_cpu: dict[str, float] = field(default_factory=dict)
    own_cpu: float = 0.0
    #: Redis PUBLISH commands over the timed approvals (two nodes).
    published: int = 0
    waiting: dict[str, int] = field(default_factory=dict)
    #: Two nodes: node B's status after the approvals.
    phones: dict[str, int] = field(default_factory=dict)


async def approve(client: httpx.AsyncClient, stream: Stream) -> tuple[float, float]:
    """The phone approves with the number shown in the browser: (round trip, notified)."""
    browser = stream.browser
    path = f"{API}/answer"
    timestamp = int(time.time())
    body = json.dumps(
        {
            "challenge": browser.challenge,
            "nonce": browser.nonce,
            "decision": "approve",
            "number": browser.number,
            "timestamp": timestamp,
        }
    ).encode()
    headers = {
        **browser.phone.headers("POST", path, body, timestamp),
        "Content-Type": "application/json",
    }
    sent = time.perf_counter()
    answer = await client.post(path, content=body, headers=headers)
    answered = time.perf_counter()
    expect(answer, 200)
    if answer.json().get("state") != "approved":
        raise BenchError(f"the answer was {answer.json()}")
    notified = await asyncio.wait_for(asyncio.shield(stream.approved), 10)
    return answered - sent, notified - sent


async def latency_phase(
    nodes: Nodes,
    browsers: list[Browser],
    *,
    concurrency: int,
    opening: int,
    timeout: float,
) -> LatencyFigures:
    """The phones read /pending from and answer to ``nodes.phones``; the streams wait on
    ``nodes.browsers`` (the same server with one node)."""
    phones = nodes.phones
    figures = LatencyFigures(waits=len(browsers), concurrency=concurrency, opening=opening)
    cpu = process_cpu_seconds(phones.pid)
    figures.pending = await fetch_challenges(phones.url, browsers, clients=1)
    figures.pending_cpu = process_cpu_seconds(phones.pid) - cpu
    figures.before = snapshot(nodes.browsers.pid)
    cpu = process_cpu_seconds(nodes.browsers.pid)
    with Sampler(nodes.browsers.pid) as sampler:
        streams, figures.open_seconds = await open_streams(
            nodes.browsers.port, browsers, at_once=opening, timeout=timeout
        )
    figures.open_cpu = process_cpu_seconds(nodes.browsers.pid) - cpu
    figures.open_threads, figures.open_rss = sampler.threads, sampler.rss
    figures.waiting = snapshot(nodes.browsers.pid)
    try:
        async with httpx.AsyncClient(
            base_url=phones.url,
            timeout=30,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        ) as client:
            warm = streams[: min(WARM_UP, len(streams) // 10)]
            for stream in warm:
                figures.warm_up.append((await approve(client, stream))[1])
            todo = iter(streams[len(warm) :])
            deadline = time.perf_counter() + timeout

            async def worker() -> None:
                for stream in todo:
                    if time.perf_counter() > deadline:
                        figures.errors.append("phase timeout")
                        return
                    try:
                        round_trip, notified = await approve(client, stream)
                    except (BenchError, httpx.HTTPError, TimeoutError) as exc:
                        figures.errors.append(f"{stream.browser.email}: {exc!r}")
                        continue
                    figures.round_trips.append(round_trip)
                    figures.notified.append(notified)

            cpu_by_node, own = nodes.cpu_seconds(), time.process_time()
            published = nodes.publications()
            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            figures.seconds = time.perf_counter() - start
            figures.server_cpu = {
                name: seconds - cpu_by_node[name] for name, seconds in nodes.cpu_seconds().items()
            }
            figures.own_cpu = time.process_time() - own
            figures.published = nodes.publications() - published
    finally:
        await close_streams(streams)
    if nodes.two:
        figures.phones = snapshot(phones.pid)
    return figures


def report_opening(figures: LatencyFigures, nodes: Nodes) -> None:
    """What opening the streams together cost the waiting node, against DESIGN §9's memory
    budget scaled to this many waits: 10,000 in < 500 MB, so with B bytes before opening,
    N waits may add N x (500 MB - B) / 10,000."""
    node, waits = nodes.browsers, figures.waits
    before = figures.before["VmRSS"] * 1024
    print(show(nodes.label(node, "before opening"), figures.before))
    print(
        f"  {waits} streams opened in {figures.open_seconds:.2f} s "
        f"({waits / figures.open_seconds:.0f}/s, {figures.opening} connecting at once); "
        f"{node.name} CPU {1000 * figures.open_cpu / waits:.2f} ms per stream opened; highest "
        f"while opening: threads {figures.open_threads}, VmRSS {figures.open_rss / 1024:.1f} MiB"
    )
    allowed = before + waits * (MEMORY_GOAL - before) / 10_000
    highest = max(figures.open_rss * 1024, figures.waiting["VmRSS"] * 1024)
    print(
        f"  budget: {waits} waits within 10,000 in < 500 MB: {before / 1e6:.0f} MB before + "
        f"{waits} x {(MEMORY_GOAL - before) / 10_000 / 1e3:.1f} kB = {allowed / 1e6:.0f} MB; "
        f"highest {highest / 1e6:.0f} MB = {highest / allowed:.2f} of it; RSS per stream "
        f"{(figures.waiting['VmRSS'] - figures.before['VmRSS']) / waits:.1f} KiB"
    )


def report_latency(figures: LatencyFigures, nodes: Nodes) -> None:
    count = len(figures.notified)
    if nodes.two:
        print(
            f"\nlatency: {figures.waits} waiting sign-ins on node A, one stream each, opened "
            f"{figures.opening} at a time in {figures.open_seconds:.2f} s; approvals to node B "
            f"{figures.concurrency} at a time ({len(figures.warm_up)} warm-up approvals not "
            "counted)"
        )
    else:
        print(
            f"\nlatency: {figures.waits} waiting sign-ins, one stream each, opened at once in "
            f"{figures.open_seconds:.2f} s; approvals {figures.concurrency} at a time"
            f" ({len(figures.warm_up)} warm-up approvals not counted)"
        )
    report_opening(figures, nodes)
    print(show(nodes.label(nodes.browsers, f"{figures.waits} waiting"), figures.waiting))
    if nodes.two:
        print(show(nodes.label(nodes.phones, "after the approvals"), figures.phones))
    header = f"  {'':<34} {'n':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    print(header)
    notified = "approve sent -> browser notified"
    round_trip = "approval round trip (device API)"
    if nodes.two:
        notified, round_trip = "approve sent to B -> notified on A", "approval round trip (B's API)"
    for label, values in (
        (notified, figures.notified),
        (round_trip, figures.round_trips),
        (
            "answer received -> notified",
            [n - r for n, r in zip(figures.notified, figures.round_trips, strict=True)],
        ),
        ("for scale: signed GET /pending", figures.pending),
    ):
        print(
            f"  {label:<34} {len(values):>6}"
            + "".join(f" {1000 * percentile(values, p):8.1f}" for p in (50, 90, 99, 100))
        )
    if count and figures.seconds:
        load = f"load generator {1000 * figures.own_cpu / count:.2f} ms"
        if nodes.two:
            answers = 1000 * figures.server_cpu[nodes.phones.name] / count
            streams = 1000 * figures.server_cpu[nodes.browsers.name] / count
            print(
                f"  {count / figures.seconds:.0f} approvals/s; server CPU per approval: node B "
                f"{answers:.2f} ms (the answer), node A {streams:.2f} ms (the stream's look and "
                f"event); {load}"
            )
            print(
                f"  Redis: {figures.published} PUBLISH during the {count} timed approvals "
                f"({figures.published / count:.2f} each), heard by node A's one PSUBSCRIBE"
            )
        else:
            print(
                f"  {count / figures.seconds:.0f} approvals/s; server CPU "
                f"{1000 * figures.server_cpu[nodes.browsers.name] / count:.2f} ms per approval "
                f"(answer + the stream's look and event); {load}"
            )
    if figures.pending:
        print(
            f"  server CPU {1000 * figures.pending_cpu / len(figures.pending):.2f} ms per signed "
            f"GET /pending{' on node B' if nodes.two else ''} (one at a time, before the streams "
            "opened)"
        )
    if figures.errors:
        print(f"  {len(figures.errors)} errors; first: {figures.errors[0]}")
    p99 = percentile(figures.notified, 99)
    print(
        f"  budget: p99 < 50 ms: p99 {1000 * p99:.1f} ms = {p99 / LATENCY_GOAL:.2f} of the budget"
    )


# -- the command --------------------------------------------------------------------------------


async def phases(
    nodes: Nodes, browsers: list[Browser], args: argparse.Namespace
) -> tuple[MemoryFigures | None, LatencyFigures | None]:
    memory = latency = None
    if args.memory_waits:
        # The sign-ins are still waiting afterwards: the latency phase approves them. One node
        # opened 47 streams/s with the machine's load average at 7 (21 ms each), and two nodes
        # on PostgreSQL open no faster: 50 ms each leaves room.
        timeout = 60 + 0.05 * args.memory_waits
        memory = await memory_phase(
            nodes,
            browsers,
            waits=args.memory_waits,
            connecting=args.connecting,
            settle=10.0,
            timeout=timeout,
        )
        report_memory(memory, len(browsers), nodes)
    if args.waits:
        latency = await latency_phase(
            nodes,
            browsers,
            concurrency=args.concurrency,
            # With two nodes they connect --connecting at a time (--connecting 1000: all at
            # once, as with one node); a node runs at most 64 requests at once, each with a
            # connection from its pool of 20.
            opening=min(args.connecting, len(browsers)) if nodes.two else len(browsers),
            timeout=60 + 0.05 * len(browsers),
        )
        report_latency(latency, nodes)
    return memory, latency


def plan_nodes(data_dir: Path, bus: Service | None) -> Nodes:
    """The one server, or node A and node B with the Redis ``bus`` (not started yet).

    Node A (and the one server) gets the last usable CPU, node B the one before it (with two
    CPUs, the load generator's); Redis and PostgreSQL are not pinned.
    """
    cpus = usable_cpus()
    last = cpus[-1] if cpus else None
    if bus is None:
        server = Node("server", free_port(), last, data_dir / "serve.log")
        return Nodes(server, server)
    return Nodes(
        Node("node A", free_port(), last, data_dir / "serve-a.log"),
        Node("node B", free_port(), cpus[-2] if len(cpus) > 1 else None, data_dir / "serve-b.log"),
        bus,
    )


def start_nodes(nodes: Nodes, env: dict[str, str]) -> None:
    """Start every node (with REDIS_URL when there are two) and wait until each answers."""
    if nodes.redis is not None:
        env = {**env, "REDIS_URL": nodes.redis.url}
    for node in nodes.all:
        node.process = start_server(env, node.port, node.cpu, node.log)
    for node in nodes.all:
        assert node.process is not None
        # Two nodes start together (Django, then uvicorn each): on a loaded machine this
        # took over 30 s.
        wait_until_up(node.process, f"{node.url}/signin/", timeout=120)


def _node_counts(value: str) -> list[int]:
    counts = [int(part) for part in value.split(",") if part.strip().isdigit()]
    if not counts or any(count not in (1, 2) for count in counts):
        raise argparse.ArgumentTypeError("1, 2 or 1,2")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waits", type=int, help="waiting sign-ins (default 1000)")
    parser.add_argument(
        "--memory-waits", type=int, help="pending waits in the memory phase (default 10000)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=1, help="approvals at a time (default 1)"
    )
    parser.add_argument(
        "--connecting",
        type=int,
        default=CONNECTING,
        help=f"streams connecting at once: memory phase; with --nodes 2 also the latency "
        f"phase (default {CONNECTING})",
    )
    parser.add_argument("--clients", type=int, default=4, help="clients signing in (default 4)")
    parser.add_argument("--quick", action="store_true", help="100 waits, 1000 memory waits")
    parser.add_argument(
        "--nodes",
        type=_node_counts,
        default=[1],
        help="vahva serve processes: 1, or 2 sharing one database and one Redis, or 1,2: "
        "one run of each in this invocation, compared (default 1)",
    )
    parser.add_argument(
        "--database",
        choices=("auto", "postgresql", "sqlite"),
        help="the database: with --nodes 2 the one the nodes share (default auto: PostgreSQL "
        "when installed, else SQLite in WAL mode); one node: its own SQLite file by default",
    )
    args = parser.parse_args(argv)
    args.waits = args.waits if args.waits is not None else (100 if args.quick else 1000)
    if args.memory_waits is None:
        args.memory_waits = 1000 if args.quick else 10_000
    if min(args.waits, args.concurrency, args.clients, args.connecting) < 1:
        parser.error("--waits, --concurrency, --clients and --connecting must be positive")
    if args.memory_waits < 0:
        parser.error("--memory-waits must be 0 or more")

    if len(args.nodes) > 1:
        return compare_node_counts(args.nodes, sys.argv[1:] if argv is None else argv)
    soft, hard = raise_nofile()
    _server_cpu, client_cpu = begin_run()
    needed = args.memory_waits + args.waits + 100
    if soft < needed:
        print(f"warning: open-file limit {soft} < {needed}: streams will fail", file=sys.stderr)
    run(args, args.nodes[0], client_cpu, (soft, hard))
    return 0


def compare_node_counts(counts: list[int], argv: list[str]) -> int:
    """Issue 20's target: the two nodes' p99 under 50 ms at the load of a one-node run in the
    same invocation. Each count runs as a child of its own (Django is set up once per
    process), one after the other; their output is shown as it comes, then side by side."""
    rest: list[str] = []
    values = iter(argv)
    for arg in values:
        if arg == "--nodes":
            next(values, None)  # its value
        elif not arg.startswith("--nodes="):
            rest.append(arg)
    summary = []
    for count in counts:
        print(f"\n=== {count} node{'s' if count > 1 else ''} ===", flush=True)
        first = os.getloadavg()[0]
        child = subprocess.Popen(
            [sys.executable, __file__, *rest, "--nodes", str(count)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        budget = "no latency phase"
        for line in child.stdout:
            print(line, end="", flush=True)
            if "budget: p99 < 50 ms" in line:
                budget = line.split("budget: p99 < 50 ms:", 1)[1].strip()
        if child.wait() != 0:
            print(f"the {count}-node run failed (exit {child.returncode})", file=sys.stderr)
            return child.returncode
        summary.append(
            f"  {count} node{'s' if count > 1 else ' '}: {budget}; load "
            f"{first:.2f} -> {os.getloadavg()[0]:.2f}"
        )
    print("\nsame invocation, approve -> browser notified:")
    print("\n".join(summary))
    return 0


def run(
    args: argparse.Namespace, count: int, client_cpu: int | None, nofile: tuple[int, int]
) -> LatencyFigures | None:
    """One run with ``count`` nodes: set-up, both phases, reports; every process stopped."""
    soft, hard = nofile
    latency = None
    with contextlib.ExitStack() as stack:
        bus, database_url, database = None, "", ""
        if count == 2:
            bus = stack.enter_context(throwaway_redis())
        if count == 2 or args.database not in (None, "sqlite"):
            database_url, database = stack.enter_context(shared_database(args.database or "auto"))
        env = stack.enter_context(throwaway_vahva(database_url=database_url))
        from django.db import connections

        from vahva import clock

        # The server reads its configuration at start; the set-up below does not need it.
        config = Path(env["VAHVA_DATA_DIR"]) / "vahva.toml"
        with config.open("a", encoding="utf-8") as handle:
            handle.write(f"push_ttl = {PUSH_TTL}\n")
        began = time.perf_counter()
        browsers = make_push_people(args.waits, registered_at=clock.now() - dt.timedelta(days=1))
        enrolled = time.perf_counter() - began
        connections.close_all()  # the server gets the SQLite file to itself

        nodes = plan_nodes(Path(env["VAHVA_DATA_DIR"]), bus)
        try:
            start_nodes(nodes, env)
            pin(client_cpu)
            if nodes.two:
                a, b = nodes.all
                print(
                    f"two nodes, vahva serve (uvicorn) each: node A pid {a.pid} on CPU {a.cpu} "
                    f"(browsers sign in and wait), node B pid {b.pid} on CPU {b.cpu} (phones "
                    f"answer); load generator on CPU {client_cpu}; open files: nodes "
                    f"{fd_limit(a.pid)}, this process {soft}/{hard}; push_ttl {PUSH_TTL} s"
                )
                assert bus is not None
                print(f"shared by both: {database}; {bus.description}, pid {bus.pid} (REDIS_URL)")
            else:
                print(
                    f"vahva serve (uvicorn) pid {nodes.browsers.pid} on CPU "
                    f"{nodes.browsers.cpu}, load generator on CPU {client_cpu}; open files: server "
                    f"{fd_limit(nodes.browsers.pid)}, this process {soft}/{hard}; push_ttl "
                    f"{PUSH_TTL} s"
                )
                if database:
                    print(f"database: {database}")
            started = {node.name: snapshot(node.pid) for node in nodes.all}
            seconds = sign_in_all(
                nodes.browsers.url, browsers, clients=args.clients, timeout=60 + 0.2 * len(browsers)
            )
            print(
                f"set-up: {len(browsers)} people with an active app device enrolled in "
                f"{enrolled:.1f} s (ORM, this process); signed in over HTTP with "
                f"{args.clients} clients in {seconds:.1f} s ({len(browsers) / seconds:.0f}/s)"
                + (" on node A" if nodes.two else "")
            )
            # argon2id takes 19 MiB per hash, in the request's thread: what the allocator
            # keeps of it shows here, before any stream is opened.
            for node in nodes.all:
                label = nodes.label(node, "at start") if nodes.two else "server at start"
                print(show(label, started[node.name]))
            for node in nodes.all:
                label = nodes.label(node, f"after {len(browsers)} sign-ins")
                print(show(label, snapshot(node.pid)))
            _memory, latency = asyncio.run(phases(nodes, browsers, args))
            print("load average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        except BaseException:
            for node in nodes.all:
                if node.log.exists():
                    tail = node.log.read_text(errors="replace")[-3000:]
                    print(f"--- {node.name}'s log:\n{tail}", file=sys.stderr)
            raise
        finally:
            for node in nodes.all:
                if node.process is not None:
                    stop_server(node.process)
            pin(None)
    return latency


if __name__ == "__main__":
    sys.exit(main())
