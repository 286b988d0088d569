"""Two real `vahva serve` nodes sharing one database and one Redis (DESIGN.md §4, §8).

A browser signs in on node A and waits on its event stream; the device answers over node B's
device API; node A's stream hears it through Redis. Then the other way round, with a deny.
Both nodes use one SQLite file (WAL) in a throwaway data folder and a real redis-server on
loopback; every process is this test's own, stopped by its pid.
"""

from __future__ import annotations

import json
import os
import queue
import re
import selectors
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from vahva.authenticator.client import DeviceClient

if TYPE_CHECKING:
    from tests.redis_server import RedisServer

pytest_plugins = ["tests.redis_server"]

VAHVA = str(Path(sys.executable).with_name("vahva"))
EMAIL = "alice@example.org"
PASSWORD = "correct horse battery staple"
#: Every bounded wait (an event, a command); a healthy run needs milliseconds to a second.
WAIT = 20.0

_DJANGO = """\
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vahva.settings.main")
import django
django.setup()
from vahva import clock
from vahva.accounts.models import User
from vahva.authenticator.models import PushChallenge
from vahva.methods import registry
from vahva.methods.app_push import enrolment_link
from vahva.methods.models import PendingEnrolment
"""
START_ENROLMENT = """
pending = registry.get("app_push").start_enrolment(
    User.objects.get(email=%r), now=clock.now()
)
print(enrolment_link(pending.secret))
"""
TEST_NUMBER = """
print(PushChallenge.objects.get(purpose="test").number)
"""
FINISH_ENROLMENT = """
test = PushChallenge.objects.get(purpose="test")
saved = registry.get("app_push").finish_enrolment(
    PendingEnrolment.objects.get(), test.pk.hex, now=clock.now()
)
print(saved.pk)
"""


def ask_at_once(config: Path) -> None:
    """The demo asks for MFA two hours after registering (the seed's activation delay); the
    device these tests enrol signs Alice in at once. They sign her in many times within a few
    real minutes, which the push-bombing limits would refuse (their own tests are in
    tests/authenticator/test_push_bombing.py), so the limits are wide here."""
    text = config.read_text()
    assert "activation_delay = 7200" in text
    config.write_text(
        text.replace(
            "activation_delay = 7200",
            "activation_delay = 0\npush_max_open = 10\npush_max_per_window = 1000\n"
            "push_suspicious_limit = 1000",
        )
    )


def _free_port() -> int:
    from tests.redis_server import free_port

    return free_port()


def _run(command: list[str], *, env: dict[str, str], cwd: Path, stdin: str = "") -> str:
    result = subprocess.run(
        command, env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _django(code: str, *, env: dict[str, str], cwd: Path) -> str:
    return _run([sys.executable, "-c", _DJANGO + code], env=env, cwd=cwd).strip()


@dataclass
class Node:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: bytearray = field(default_factory=bytearray)
    printed: threading.Condition = field(default_factory=threading.Condition)

    def drain(self) -> str:
        """What the node has printed so far."""
        with self.printed:
            return self.log.decode(errors="replace")

    def wait_for(self, text: str) -> None:
        """Until the node has printed ``text`` (at most WAIT seconds)."""
        with self.printed:
            found = self.printed.wait_for(lambda: text.encode() in self.log, timeout=WAIT)
        assert found, f"node {self.name} never printed {text!r}:\n{self.drain()}"


def _start_node(name: str, port: int, *, env: dict[str, str], cwd: Path, workers: int = 1) -> Node:
    process = subprocess.Popen(
        [VAHVA, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return Node(name, f"http://127.0.0.1:{port}", process)


def _wait_until_serving(node: Node) -> None:
    """Poll until the node answers (at most 300 tries, each waiting on its output <= 0.2 s)."""
    assert node.process.stdout is not None
    fd = node.process.stdout.fileno()
    with selectors.DefaultSelector() as selector, httpx.Client(timeout=0.5) as probe:
        selector.register(fd, selectors.EVENT_READ)
        for _try in range(300):
            if selector.select(timeout=0.2):
                chunk = os.read(fd, 65536)
                assert chunk, f"node {node.name} exited with {node.process.wait()}:\n{node.drain()}"
                node.log.extend(chunk)
            try:
                probe.get(node.url + "/signin/")
            except httpx.TransportError:
                continue
            # From now on a thread keeps the pipe drained (the log is kept for failures).
            threading.Thread(target=_drain, args=(node,), daemon=True).start()
            return
    pytest.fail(f"node {node.name} did not answer on {node.url}:\n{node.drain()}")


def _drain(node: Node) -> None:
    assert node.process.stdout is not None
    for line in node.process.stdout:
        with node.printed:
            node.log.extend(line)
            node.printed.notify_all()


def _stop(node: Node) -> None:
    # Only the server this test started, by its pid.
    node.process.terminate()
    try:
        node.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        node.process.kill()
        node.process.wait(timeout=15)


@dataclass
class Cluster:
    a: Node
    b: Node
    #: The device's state directory; its device.json names node B as its server.
    device: Path
    data_dir: Path


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[Cluster]:
    data_dir = tmp_path_factory.mktemp("two-nodes")
    # A clean environment, as in test_make_run: the test settings' VAHVA_* stay out.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VAHVA_", "DJANGO_")) and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env["VAHVA_DATA_DIR"] = str(data_dir)
    env["REDIS_URL"] = redis_server.url
    port_a, port_b = _free_port(), _free_port()
    # The QR link (and so the device's server) points at node B.
    _run(
        [VAHVA, "init", "--demo", "--public-url", f"http://127.0.0.1:{port_b}"],
        env=env,
        cwd=data_dir,
    )
    ask_at_once(data_dir / "vahva.toml")
    # Before the nodes start: migrate also creates the signing keys both nodes then read.
    _run([VAHVA, "migrate", "--noinput", "-v", "0"], env=env, cwd=data_dir)
    _run(
        [VAHVA, "user", "add", EMAIL, "--name", "Alice", "--password-stdin"],
        env=env,
        cwd=data_dir,
        stdin=PASSWORD + "\n",
    )

    nodes = [
        _start_node("A", port_a, env=env, cwd=data_dir),
        _start_node("B", port_b, env=env, cwd=data_dir),
    ]
    try:
        for node in nodes:
            _wait_until_serving(node)
        node_a, node_b = nodes
        # Alice enrols the command-line client over node B, approves its test notification
        # with the number (read from the database, as the computer would show it) and the
        # enrolment is finished: an active vahva-app device.
        device = data_dir / "device"
        link = _django(START_ENROLMENT % EMAIL, env=env, cwd=data_dir)
        assert link.startswith(node_b.url + "/app/enroll#"), link
        enrolled = _run(
            [VAHVA, "authenticator", "enroll", link, "--name", "Shell", "--state", str(device)],
            env=env,
            cwd=data_dir,
        )
        assert "Enrolled as device" in enrolled
        number = _django(TEST_NUMBER, env=env, cwd=data_dir)
        approved = _run(
            [VAHVA, "authenticator", "approve", "--number", number, "--state", str(device)],
            env=env,
            cwd=data_dir,
        )
        assert "Approved" in approved
        _django(FINISH_ENROLMENT, env=env, cwd=data_dir)
        yield Cluster(node_a, node_b, device, data_dir)
    finally:
        for node in nodes:
            _stop(node)
        if os.environ.get("SHOW_NODE_LOGS"):  # for debugging: pytest -s with it set
            for node in nodes:
                print(f"--- node {node.name}\n{node.drain()}")


def _field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} in the form"
    return match.group(1)


@dataclass
class Waiting:
    """A browser at the push step: the number on its page and its open event stream."""

    browser: httpx.Client
    number: int
    page: str
    events: queue.Queue[tuple[float, dict[str, Any]]]
    reader: threading.Thread


def open_push_sign_in(url: str) -> tuple[httpx.Client, int, str, str]:
    """Sign in on ``url`` with the password up to the waiting page (which sends the push):
    the browser's client, the number the page shows, the page, and its event stream's path."""
    browser = httpx.Client(base_url=url, timeout=WAIT)
    form = browser.get("/signin/")
    step = browser.post(
        "/signin/",
        data={
            "csrfmiddlewaretoken": _field(form.text, "csrfmiddlewaretoken"),
            "email": EMAIL,
            "password": PASSWORD,
        },
    )
    assert step.status_code == 302, step.text
    assert step.headers["location"] == "/signin/verify/"
    page = browser.get("/signin/verify/")  # sends the push to the device
    assert page.status_code == 200
    number = re.search(r'id="push-number">(\d+)<', page.text)
    events_url = re.search(r'data-events="([^"]+)"', page.text)
    assert number, "the page shows the number to type on the phone"
    assert events_url, "the page names its event stream"
    return browser, int(number.group(1)), page.text, events_url.group(1).replace("&amp;", "&")


def _sign_in_and_wait(node: Node) -> Waiting:
    browser, number, page, path = open_push_sign_in(node.url)
    events: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
    # The stream in a client of its own (same cookies), read by a thread of its own.
    stream = httpx.Client(
        base_url=node.url, cookies=browser.cookies, timeout=httpx.Timeout(WAIT, read=WAIT)
    )

    def read() -> None:
        with stream, stream.stream("GET", path) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data: "):
                    events.put((time.perf_counter(), json.loads(line.removeprefix("data: "))))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return Waiting(browser, number, page, events, reader)


def _next_event(waiting: Waiting) -> tuple[float, dict[str, Any]]:
    try:
        return waiting.events.get(timeout=WAIT)
    except queue.Empty:
        pytest.fail(f"no event within {WAIT}s")


def _device_on(cluster: Cluster, node: Node) -> DeviceClient:
    """The enrolled device, talking to ``node`` (the state names node B; a copy names A)."""
    state = cluster.device
    if node is not cluster.b:
        state = cluster.data_dir / f"device-via-{node.name}"
        if not state.exists():
            shutil.copytree(cluster.device, state)
            saved = json.loads((state / "device.json").read_text())
            (state / "device.json").write_text(json.dumps({**saved, "server": node.url}))
    return DeviceClient(state, now=time.time)


def test_approve_on_node_b_wakes_the_stream_on_node_a(cluster: Cluster) -> None:
    waiting = _sign_in_and_wait(cluster.a)
    _at, first = _next_event(waiting)
    assert first == {"state": "pending"}

    device = _device_on(cluster, cluster.b)
    started = time.perf_counter()
    answer = device.answer("approve", number=waiting.number)
    answered = time.perf_counter()
    assert answer.get("state", "approved") == "approved", answer
    at, event = _next_event(waiting)
    assert event == {"state": "approved"}
    print(
        f"\nnode B approve -> node A stream: {(at - started) * 1000:.1f} ms after the device "
        f"asked (pending + answer round trips {(answered - started) * 1000:.1f} ms), "
        f"{(at - answered) * 1000:+.1f} ms from the answer's response"
    )
    waiting.reader.join(WAIT)
    assert not waiting.reader.is_alive(), "the stream ends after its final event"
    # Woken through Redis, not by a deadline: node A's listener is on it.
    cluster.a.wait_for("event bus: listening on redis://127.0.0.1:")

    # Node A finds the approval in the shared database and completes the sign-in.
    done = waiting.browser.post(
        "/signin/verify/",
        data={"csrfmiddlewaretoken": _field(waiting.page, "csrfmiddlewaretoken")},
    )
    assert done.status_code == 302, done.text
    assert done.headers["location"] == "/security-info/"
    waiting.browser.close()


def test_deny_on_node_a_wakes_the_stream_on_node_b(cluster: Cluster) -> None:
    waiting = _sign_in_and_wait(cluster.b)
    _at, first = _next_event(waiting)
    assert first == {"state": "pending"}

    device = _device_on(cluster, cluster.a)
    started = time.perf_counter()
    device.answer("deny")
    at, event = _next_event(waiting)
    assert event == {"state": "denied"}
    print(f"\nnode A deny -> node B stream: {(at - started) * 1000:.1f} ms after the device asked")
    waiting.reader.join(WAIT)
    assert not waiting.reader.is_alive()
    cluster.b.wait_for("event bus: listening on redis://127.0.0.1:")
    waiting.browser.close()
