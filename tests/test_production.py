"""Production mode (DESIGN.md §8): real `vahva serve` nodes on one PostgreSQL and one Redis.

Two nodes, each with a data folder of its own (as on two hosts: only the configuration file
and the ID-token keys are copied), node B with two worker processes. A browser (an HTTP client
that reads the waiting page's event stream) signs in on node A; the phone (the command-line
device client) answers over node B. Then node A is killed (SIGKILL) while the browser waits,
and the browser carries on at node B, as it would behind a reverse proxy. Then Redis is
stopped (SIGTERM) and frozen (SIGSTOP): people keep signing in, the waits polling the
database, and Redis's wake-ups are back once it is. The rows in PostgreSQL are counted: a
sign-in saves one attempt, one push and the same audit rows whatever node failed.

Every process here is this module's own (PostgreSQL, Redis, the nodes), stopped by its pid;
everything listens on 127.0.0.1 only; every wait is a bounded poll of a condition.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.test_two_nodes import (
    EMAIL,
    FINISH_ENROLMENT,
    PASSWORD,
    START_ENROLMENT,
    TEST_NUMBER,
    VAHVA,
    Node,
    _django,
    _field,
    _run,
    _start_node,
    _stop,
    _wait_until_serving,
    ask_at_once,
    open_push_sign_in,
)
from vahva import cli
from vahva.authenticator.client import DeviceClient
from vahva.authenticator.redis_bus import RESYNC, RedisBus
from vahva.crypto import new_key
from vahva.settings.config import load, public_origin
from vahva.web import checks

if TYPE_CHECKING:
    from tests.postgres_server import PostgresServer
    from tests.redis_server import RedisServer

pytest_plugins = ["tests.postgres_server", "tests.redis_server"]

#: Every bounded wait of a healthy cluster (an event, a page); a run needs milliseconds.
WAIT = 20.0
#: A wait that may need Redis's absence to be noticed (a ping unanswered: 5 s + 3 s) and a
#: poll of the database (every 2 s) on top.
DEGRADED_WAIT = 40.0
LISTENING = "event bus: listening on"
#: A stream's heartbeat comes every 15 s; a read waits longer than that.
READ_TIMEOUT = 60.0


@dataclass
class Cluster:
    """Two nodes, their PostgreSQL database and their Redis."""

    database: str
    redis: RedisServer
    #: Each node's environment (its own data folder), by name.
    envs: dict[str, dict[str, str]]
    ports: dict[str, int]
    workers: dict[str, int]
    device: Path
    nodes: dict[str, Node] = field(default_factory=dict)

    @property
    def a(self) -> Node:
        return self.nodes["A"]

    @property
    def b(self) -> Node:
        return self.nodes["B"]

    def start(self, name: str) -> Node:
        env = self.envs[name]
        node = _start_node(
            name,
            self.ports[name],
            env=env,
            cwd=Path(env["VAHVA_DATA_DIR"]),
            workers=self.workers[name],
        )
        self.nodes[name] = node
        _wait_until_serving(node)
        return node

    def running(self) -> Cluster:
        """Restart whatever node an earlier test killed; Redis running and not frozen."""
        if self.redis.process is None:
            self.redis.start()
        else:
            os.kill(self.redis.process.pid, signal.SIGCONT)  # no-op unless it was frozen
        for name in ("A", "B"):
            node = self.nodes.get(name)
            if node is None or node.process.poll() is not None:
                self.start(name)
        return self

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database, autocommit=True) as connection:
            return connection.execute(query, args).fetchall()  # type: ignore[arg-type]


def free_port() -> int:
    # Imported here: pytest loads tests.redis_server as a plugin (assertions rewritten).
    from tests.redis_server import free_port

    return free_port()


def _environment(data_dir: Path, database: str, redis_url: str) -> dict[str, str]:
    # A clean environment, as in test_two_nodes: the test settings' VAHVA_* stay out.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VAHVA_", "DJANGO_")) and key not in ("DATABASE_URL", "REDIS_URL")
    }
    return {
        **env,
        "VAHVA_DATA_DIR": str(data_dir),
        "DATABASE_URL": database,
        "REDIS_URL": redis_url,
    }


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer
) -> Iterator[Cluster]:
    from tests.redis_server import RedisServer

    root = tmp_path_factory.mktemp("production")
    database = postgres_server.create_database("vahva_nodes")
    redis = RedisServer(root / "redis")
    redis.directory.mkdir()
    redis.start()
    dirs = {"A": root / "node-a", "B": root / "node-b"}
    envs = {name: _environment(path, database, redis.url) for name, path in dirs.items()}
    ports = {"A": free_port(), "B": free_port()}
    # The QR link (and so the device's server) points at node B.
    env_a, cwd = envs["A"], dirs["A"]
    dirs["A"].mkdir()
    _run(
        [VAHVA, "init", "--demo", "--public-url", f"http://127.0.0.1:{ports['B']}"],
        env=env_a,
        cwd=cwd,
    )
    ask_at_once(dirs["A"] / "vahva.toml")
    _run([VAHVA, "migrate", "--noinput", "-v", "0"], env=env_a, cwd=cwd)
    # Node B is "another host": its own data folder with a copy of the configuration and of
    # the ID-token signing keys, nothing else.
    dirs["B"].mkdir()
    shutil.copy2(dirs["A"] / "vahva.toml", dirs["B"] / "vahva.toml")
    shutil.copytree(dirs["A"] / "oidc", dirs["B"] / "oidc")
    _run(
        [VAHVA, "user", "add", EMAIL, "--name", "Alice", "--password-stdin"],
        env=env_a,
        cwd=cwd,
        stdin=PASSWORD + "\n",
    )
    made = Cluster(database, redis, envs, ports, workers={"A": 1, "B": 2}, device=root / "device")
    try:
        made.start("A")
        made.start("B")
        link = _django(START_ENROLMENT % EMAIL, env=env_a, cwd=cwd)
        assert link.startswith(made.b.url + "/app/enroll#"), link
        enrolled = _run(
            [
                VAHVA,
                "authenticator",
                "enroll",
                link,
                "--name",
                "Shell",
                "--state",
                str(made.device),
            ],
            env=env_a,
            cwd=cwd,
        )
        assert "Enrolled as device" in enrolled
        number = _django(TEST_NUMBER, env=env_a, cwd=cwd)
        approved = _run(
            [VAHVA, "authenticator", "approve", "--number", number, "--state", str(made.device)],
            env=env_a,
            cwd=cwd,
        )
        assert "Approved" in approved
        _django(FINISH_ENROLMENT, env=env_a, cwd=cwd)
        yield made
    finally:
        if redis.process is not None:
            os.kill(redis.process.pid, signal.SIGCONT)  # a frozen Redis cannot stop
        for node in made.nodes.values():
            _stop(node)
        redis.stop()
        if os.environ.get("SHOW_NODE_LOGS"):  # for debugging: pytest -s with it set
            for node in made.nodes.values():
                print(f"--- node {node.name}\n{node.drain()}")


# --- the browser ---------------------------------------------------------------------------


class Stream:
    """The waiting page's event stream, read by a thread of its own; ``None`` in the queue
    says the connection ended (the last event, or the node went away)."""

    def __init__(self, base_url: str, cookies: httpx.Cookies, path: str) -> None:
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.client = httpx.Client(
            base_url=base_url, cookies=cookies, timeout=httpx.Timeout(WAIT, read=READ_TIMEOUT)
        )
        self.path = path
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            with self.client, self.client.stream("GET", self.path) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        self.events.put(json.loads(line.removeprefix("data: ")))
        except httpx.HTTPError:
            pass  # the node is gone: EventSource would reconnect (see Browser.reconnect)
        finally:
            self.events.put(None)

    def next(self, timeout: float = WAIT) -> dict[str, Any] | None:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no event within {timeout}s")


@dataclass
class Browser:
    """A browser at the push step: its cookies, the page it shows and its event stream."""

    client: httpx.Client
    number: int
    page: str
    events_path: str
    stream: Stream

    def reconnect(self, node: Node) -> None:
        """What EventSource does after its connection broke: the same URL again, which the
        reverse proxy sends to a node that is up."""
        self.client = httpx.Client(base_url=node.url, cookies=self.client.cookies, timeout=WAIT)
        self.stream = Stream(node.url, self.client.cookies, self.events_path)

    def finish(self) -> httpx.Response:
        """Post the waiting page's form, as the page does once it hears "approved"."""
        return self.client.post(
            "/signin/verify/",
            data={"csrfmiddlewaretoken": _field(self.page, "csrfmiddlewaretoken")},
        )


def sign_in(node: Node) -> Browser:
    client, number, page, path = open_push_sign_in(node.url)
    browser = Browser(client, number, page, path, Stream(node.url, client.cookies, path))
    assert browser.stream.next() == {"state": "pending"}
    return browser


def approve_via(cluster: Cluster, node: Node, number: int) -> None:
    """The phone approves the newest request showing ``number``, over ``node``'s API."""
    state = cluster.device
    if node is not cluster.b:  # the device's state names node B; a copy names the other
        state = cluster.device.with_name(f"device-via-{node.name}")
        if not state.exists():
            shutil.copytree(cluster.device, state)
            saved = json.loads((state / "device.json").read_text())
            (state / "device.json").write_text(json.dumps({**saved, "server": node.url}))
    device = DeviceClient(state, now=time.time)
    waiting = sorted(device.pending(), key=lambda c: str(c["created_at"]))
    assert waiting, "the push reached the phone"
    answer = device.answer("approve", number=number, challenge=str(waiting[-1]["id"]))
    assert answer.get("state", "approved") == "approved", answer


def wait_for_approval(browser: Browser, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        event = browser.stream.next(max(0.0, deadline - time.monotonic()))
        assert event is not None, "the stream ended before the approval"
        if event != {"state": "pending"}:
            break
    assert event == {"state": "approved"}


def assert_signed_in(browser: Browser) -> None:
    done = browser.finish()
    assert done.status_code == 302, done.text
    assert done.headers["location"] == "/security-info/"
    page = browser.client.get("/security-info/")
    assert page.status_code == 200
    # Her own page, with the device she signed in with.
    assert "<h1>Security info</h1>" in page.text
    assert "Shell" in page.text


# --- the rows in PostgreSQL ----------------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    """What one sign-in saved, counted in PostgreSQL after the fact."""

    attempts: list[tuple[Any, ...]]
    pushes: list[tuple[Any, ...]]
    audit: Counter[tuple[str, str]]


def last_audit_id(cluster: Cluster) -> int:
    return int(cluster.sql("SELECT coalesce(max(id), 0) FROM audit_auditevent")[0][0])


def rows_since(cluster: Cluster, audit_id: int, started: float) -> Rows:
    """The rows made since ``started`` (time.time(), the nodes' clock: same host)."""
    since = dt.datetime.fromtimestamp(started, dt.UTC)
    attempts = cluster.sql(
        "SELECT state, method FROM signin_signinattempt WHERE created_at >= %s", since
    )
    pushes = cluster.sql(
        "SELECT state, consumed_at IS NOT NULL FROM authenticator_pushchallenge "
        "WHERE purpose = 'signin' AND created_at >= %s",
        since,
    )
    audit = Counter(
        (str(action), str(outcome))
        for action, outcome in cluster.sql(
            "SELECT action, outcome FROM audit_auditevent WHERE id > %s", audit_id
        )
    )
    return Rows(attempts, pushes, audit)


def one_sign_in(cluster: Cluster) -> Rows:
    """A sign-in with nothing failing: on node A, approved via node B."""
    audit_id, started = last_audit_id(cluster), time.time()
    browser = sign_in(cluster.a)
    approve_via(cluster, cluster.b, browser.number)
    wait_for_approval(browser)
    assert_signed_in(browser)
    return rows_since(cluster, audit_id, started)


def test_a_sign_in_on_node_a_is_approved_via_node_b(cluster: Cluster) -> None:
    cluster.running()
    rows = one_sign_in(cluster)
    assert rows.attempts == [("done", "app_push")]
    assert rows.pushes == [("approved", True)]  # one push, used once
    assert rows.audit, "the sign-in is in the audit log"
    assert all(count == 1 for count in rows.audit.values()), rows.audit
    # Woken through Redis: node A's listener is on it.
    cluster.a.wait_for(f"{LISTENING} redis://127.0.0.1:")


def test_node_a_killed_while_the_browser_waits(cluster: Cluster) -> None:
    cluster.running()
    expected = one_sign_in(cluster)

    audit_id, started = last_audit_id(cluster), time.time()
    browser = sign_in(cluster.a)
    cluster.a.process.send_signal(signal.SIGKILL)  # our own node, by its pid
    cluster.a.process.wait(timeout=WAIT)
    assert browser.stream.next() is None, "the stream broke with the node"
    browser.reconnect(cluster.b)
    assert browser.stream.next() == {"state": "pending"}, "node B knows the attempt"
    approve_via(cluster, cluster.b, browser.number)
    wait_for_approval(browser)
    assert_signed_in(browser)

    rows = rows_since(cluster, audit_id, started)
    # Nothing lost, nothing twice: the same rows as a sign-in where nothing failed.
    assert rows.attempts == [("done", "app_push")]
    assert rows.pushes == [("approved", True)]
    assert rows.audit == expected.audit


def test_redis_stopped_people_keep_signing_in_and_wake_ups_return(cluster: Cluster) -> None:
    cluster.running()
    redis = cluster.redis
    audit_id, started = last_audit_id(cluster), time.time()
    redis.stop()  # SIGTERM, by its pid
    browser = sign_in(cluster.a)
    approve_via(cluster, cluster.b, browser.number)  # node B cannot publish: logged
    wait_for_approval(browser, DEGRADED_WAIT)  # node A looked at the database
    assert_signed_in(browser)
    cluster.a.wait_for("waits poll the database")
    cluster.b.wait_for("event bus: could not publish approved")
    rows = rows_since(cluster, audit_id, started)
    assert rows.attempts == [("done", "app_push")]
    assert rows.pushes == [("approved", True)]

    listening = cluster.a.drain().count(LISTENING)
    redis.start()  # the same port
    _printed_again(cluster.a, LISTENING, listening, DEGRADED_WAIT)
    _woken_through_redis(cluster)


def test_redis_frozen_people_keep_signing_in_and_wake_ups_return(cluster: Cluster) -> None:
    cluster.running()
    redis = cluster.redis
    assert redis.process is not None
    listening = cluster.a.drain().count(LISTENING)
    os.kill(redis.process.pid, signal.SIGSTOP)  # accepts connections, answers nothing
    try:
        browser = sign_in(cluster.a)
        approve_via(cluster, cluster.b, browser.number)
        wait_for_approval(browser, DEGRADED_WAIT)
        assert_signed_in(browser)
        cluster.a.wait_for("no answer from Redis")
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)
    _printed_again(cluster.a, LISTENING, listening, DEGRADED_WAIT)
    _woken_through_redis(cluster)


def _printed_again(node: Node, text: str, before: int, timeout: float) -> None:
    """Until ``node`` has printed ``text`` more than ``before`` times (woken by its output)."""
    needle = text.encode()
    with node.printed:
        found = node.printed.wait_for(lambda: node.log.count(needle) > before, timeout=timeout)
    assert found, f"node {node.name} did not print {text!r} again:\n{node.drain()}"


def _woken_through_redis(cluster: Cluster) -> None:
    """Back to normal: an approval via node B wakes node A's stream at once. With Redis
    healthy nothing polls, so an answer long before the push expires came through Redis."""
    browser = sign_in(cluster.a)
    answered = time.monotonic()
    approve_via(cluster, cluster.b, browser.number)
    wait_for_approval(browser)
    assert time.monotonic() - answered < WAIT
    assert_signed_in(browser)


def test_a_node_stopped_for_an_upgrade_ends_its_streams_and_the_browser_moves_on(
    cluster: Cluster,
) -> None:
    """SIGTERM (systemctl stop/restart): open event streams do not hold the stop up for
    minutes; they are cut after a few seconds and the page reconnects elsewhere."""
    cluster.running()
    browser = sign_in(cluster.a)
    stopped = time.monotonic()
    cluster.a.process.terminate()
    cluster.a.process.wait(timeout=cli.GRACEFUL_SHUTDOWN + 10)
    assert time.monotonic() - stopped < cli.GRACEFUL_SHUTDOWN + 10
    assert browser.stream.next() is None
    browser.reconnect(cluster.b)
    assert browser.stream.next() == {"state": "pending"}
    approve_via(cluster, cluster.b, browser.number)
    wait_for_approval(browser)
    assert_signed_in(browser)


# --- the event bus without Redis, in-process ------------------------------------------------


def _run_bounded(scenario: Any) -> Any:
    """asyncio.run with a bound: a wait that never ends fails the test, with its traceback."""
    return asyncio.run(asyncio.wait_for(scenario, 60))


def test_while_redis_is_away_the_waiters_poll_the_database(
    own_redis: Callable[[], RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = own_redis()
    node = RedisBus(server.url, poll_interval=0.2, backoff=(0.05, 0.2))
    other = RedisBus(server.url)

    async def scenario() -> None:
        assert await node.connected(WAIT)
        listener = node.subscribe("attempt")
        # Healthy: nothing but real outcomes, and no polling.
        assert await listener.next(0.5) is None
        server.stop()
        # Away: told to look again, every poll interval, for as long as Redis is gone.
        assert await listener.next(WAIT) == RESYNC
        assert await listener.next(WAIT) == RESYNC
        assert "waits poll the database every 0.2s" in caplog.text
        server.start()
        assert await node.connected(WAIT)
        while await listener.next(0.1) is not None:
            pass  # the RESYNC of the reconnection (and a poll just before it, maybe)
        # Back: the polling has stopped, and the other node's publications arrive again.
        assert await listener.next(0.6) is None
        await asyncio.to_thread(other.publish, "attempt", "approved")
        assert await listener.next(WAIT) == "approved"
        listener.close()
        await node.aclose()
        other.close()

    _run_bounded(scenario())


def test_a_frozen_redis_is_noticed_by_an_unanswered_ping(
    own_redis: Callable[[], RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = own_redis()
    node = RedisBus(
        server.url, health_interval=0.3, ping_timeout=0.3, poll_interval=0.2, backoff=(0.05, 0.2)
    )

    async def scenario() -> None:
        assert await node.connected(WAIT)
        listener = node.subscribe("attempt")
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGSTOP)  # the connection stays, nothing answers
        try:
            assert await listener.next(WAIT) == RESYNC  # polling
            assert not await node.connected(0.0)
            assert "no answer from Redis" in caplog.text
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        assert await node.connected(WAIT)
        listener.close()
        await node.aclose()

    _run_bounded(scenario())


# --- checks: `vahva check --deploy` -------------------------------------------------------


def _production(settings: Any, **vahva: Any) -> None:
    """Settings a production deployment would have; ``vahva`` overrides some."""
    settings.DEBUG = False
    settings.SECRET_KEY = secrets.token_urlsafe(48)
    settings.ALLOWED_HOSTS = ["mfa.example.org"]
    settings.REDIS_URL = ""
    settings.SERVE_WORKERS = 1
    settings.VAHVA = {
        **settings.VAHVA,
        "PUBLIC_URL": "https://mfa.example.org",
        "TRUSTED_PROXIES": ["10.0.0.5"],
        "ENCRYPTION_KEYS": {"k1": new_key()},
        "ENCRYPTION_KEY_ID": "k1",
        "DEV_PHONE": False,
        "PHONE_GATEWAY": "vahva.gateways.twilio.TwilioGateway",
        "TWILIO": {"account_sid": "AC1", "auth_token": "t", "from_number": "+358401234567"},
        **vahva,
    }


def _ids(messages: list[Any]) -> list[str]:
    return sorted(str(message.id) for message in messages)


def test_the_test_settings_are_unfit_for_production(settings: Any) -> None:
    messages = checks.check_deployment()
    assert _ids(messages) == ["vahva.E010", "vahva.E011", "vahva.E012", "vahva.E013"]
    text = "\n".join(str(message.msg) for message in messages)
    assert "secret_key is a published or made-up value" in text
    assert "/dev/phone shows every texted code" in text
    assert "'http://localhost:8000' is not https" in text
    # Keys are never printed, not even the published ones.
    assert "mFnCOWzvJe6uGQ0cV3nI8wz1j3" not in text


def test_a_production_configuration_passes(settings: Any) -> None:
    _production(settings)
    assert checks.check_deployment() == []
    assert checks.check_workers() == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"TRUSTED_PROXIES": []}, "vahva.W012"),
        ({"TRUSTED_PROXIES": ["0.0.0.0/0"]}, "vahva.E015"),
        ({"TRUSTED_PROXIES": ["::/0"]}, "vahva.E015"),
        ({"TRUSTED_PROXIES": ["198.51.0.0/16"]}, "vahva.E015"),
        ({"PUSH_ALLOW_PRIVATE_ENDPOINTS": True}, "vahva.E016"),
        ({"PUBLIC_URL": "http://mfa.example.org"}, "vahva.E013"),
        ({"PUBLIC_URL": "https://sso.example.org"}, "vahva.E014"),
        ({"ENCRYPTION_KEYS": {"k1": base64.urlsafe_b64encode(bytes(32)).decode()}}, "vahva.E011"),
        ({"DEV_PHONE": True, "PHONE_GATEWAY": "vahva.gateways.dev.DevGateway"}, "vahva.E012"),
    ],
)
def test_each_unsafe_setting_is_named(settings: Any, change: dict[str, Any], expected: str) -> None:
    _production(settings, **change)
    assert _ids(checks.check_deployment()) == [expected]


def test_weak_secret_keys_and_wide_hosts_are_named(settings: Any) -> None:
    _production(settings)
    settings.SECRET_KEY = "correct horse battery staple " * 2  # long, but a phrase
    assert _ids(checks.check_deployment()) == ["vahva.E010"]
    _production(settings)
    settings.ALLOWED_HOSTS = ["*"]
    assert _ids(checks.check_deployment()) == ["vahva.W013"]
    # A proxy on the organisation's private network, and a subdomain pattern, are fine.
    _production(settings, TRUSTED_PROXIES=["10.0.0.0/8", "192.0.2.10"])
    settings.ALLOWED_HOSTS = [".example.org"]
    assert checks.check_deployment() == []


def test_several_workers_need_redis_and_should_not_share_a_sqlite_file(settings: Any) -> None:
    _production(settings)
    settings.SERVE_WORKERS = 4
    assert _ids(checks.check_workers()) == ["vahva.E003"]
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert checks.check_workers() == []

    sqlite, postgres = "django.db.backends.sqlite3", "django.db.backends.postgresql"
    assert _ids(checks.database_checks(engine=sqlite, workers=1, redis_url="")) == []
    assert _ids(checks.database_checks(engine=sqlite, workers=4, redis_url="")) == ["vahva.W010"]
    assert _ids(checks.database_checks(engine=sqlite, workers=1, redis_url="redis://r")) == [
        "vahva.W011"
    ]
    assert checks.database_checks(engine=postgres, workers=8, redis_url="redis://r") == []


# --- the command line and the settings module, as an operator runs them ------------------


def _cli(args: list[str], data_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VAHVA_", "DJANGO_")) and key not in ("DATABASE_URL", "REDIS_URL")
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [VAHVA, *args],
        env={**env, "VAHVA_DATA_DIR": str(data_dir), **extra},
        cwd=data_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


PRODUCTION_TOML = """\
debug = false
secret_key = "{secret}"
allowed_hosts = ["mfa.example.org"]

[vahva]
public_url = "https://mfa.example.org"
trusted_proxies = ["10.0.0.5"]
encryption_key_id = "k1"
encryption_keys = {{ k1 = "{key}" }}
phone_gateway = "vahva.gateways.twilio.TwilioGateway"
twilio = {{ account_sid = "AC1", auth_token = "t", from_number = "+358401234567" }}
"""


def test_vahva_check_deploy(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    assert _cli(["init", "--demo"], demo).returncode == 0
    result = _cli(["check", "--deploy"], demo)
    assert result.returncode == 1, "errors fail the command"
    output = result.stdout + result.stderr
    for problem in ("security.W018", "vahva.E012", "vahva.E013"):  # DEBUG, dev phone, http
        assert problem in output, output
    assert _cli(["check"], demo).returncode == 0, "only --deploy asks for production"

    production = tmp_path / "production"
    production.mkdir()
    (production / "vahva.toml").write_text(
        PRODUCTION_TOML.format(secret=secrets.token_urlsafe(48), key=new_key())
    )
    result = _cli(["check", "--deploy"], production)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "vahva." not in result.stdout + result.stderr
    # Several workers: Redis and PostgreSQL, please.
    result = _cli(["check", "--deploy"], production, VAHVA_WORKERS="3")
    assert result.returncode == 1
    assert "vahva.E003" in result.stderr
    assert "vahva.W010" in result.stderr


def test_serve_refuses_several_workers_without_redis(tmp_path: Path) -> None:
    assert _cli(["init", "--demo"], tmp_path).returncode == 0
    result = _cli(["serve", "--port", str(free_port()), "--workers", "2"], tmp_path)
    assert result.returncode == 1
    assert "(vahva.E003) 2 workers without Redis" in result.stderr
    bad = _cli(["serve", "--workers", "0"], tmp_path)
    assert bad.returncode == 2
    assert "--workers: must be at least 1" in bad.stderr


SHOW_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "options": db.get("OPTIONS", {}), "max_age": db["CONN_MAX_AGE"],
    "cursors": db["DISABLE_SERVER_SIDE_CURSORS"], "csrf": s.CSRF_TRUSTED_ORIGINS,
    "proxy_ssl": getattr(s, "SECURE_PROXY_SSL_HEADER", None), "hsts": s.SECURE_HSTS_SECONDS,
    "workers": s.SERVE_WORKERS,
}))
"""


def _settings(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    python = str(Path(VAHVA).with_name("python"))
    return subprocess.run(
        [python, "-c", SHOW_SETTINGS],
        env={
            "PATH": os.environ.get("PATH", ""),
            "VAHVA_DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": "vahva.settings.main",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_settings_from_the_file_and_the_environment(tmp_path: Path) -> None:
    (tmp_path / "vahva.toml").write_text(
        PRODUCTION_TOML.format(secret=secrets.token_urlsafe(48), key=new_key())
        .replace("debug = false", "debug = false\nworkers = 4")
        .replace("https://mfa.example.org", "https://MFA.example.org/vahva/")
    )
    result = _settings(
        tmp_path,
        DATABASE_URL="postgres://vahva:pw@db.example:5432/vahva"
        "?sslmode=verify-full&disable_server_side_cursors=true",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["engine"] == "django.db.backends.postgresql"
    assert shown["options"] == {
        "sslmode": "verify-full",
        "connect_timeout": 5,
        "application_name": "vahva",
        # Django's pool: a request holds a connection only while it runs, then puts it back.
        "pool": {"min_size": 2, "max_size": 20, "timeout": 10, "max_idle": 300},
    }
    assert shown["max_age"] == 0  # the pool's, not persistent per-thread connections
    assert shown["cursors"] is True  # PgBouncer in transaction mode
    # Behind the TLS proxy: its https origin passes CSRF, its X-Forwarded-Proto is read.
    assert shown["csrf"] == ["https://mfa.example.org"]
    assert shown["proxy_ssl"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert shown["hsts"] == 365 * 86400
    assert shown["workers"] == 4
    assert json.loads(_settings(tmp_path, VAHVA_WORKERS="2").stdout)["workers"] == 2
    # ?pool=false (PgBouncer pools already): the request threads' connections persist instead.
    unpooled = json.loads(
        _settings(
            tmp_path, DATABASE_URL="postgres://vahva:pw@db.example:5432/vahva?pool=false"
        ).stdout
    )
    assert "pool" not in unpooled["options"]
    assert unpooled["max_age"] == 300


def test_bad_database_urls_and_worker_counts_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "vahva.toml").write_text(
        PRODUCTION_TOML.format(secret=secrets.token_urlsafe(48), key=new_key())
    )
    result = _settings(tmp_path, DATABASE_URL="mysqlx://vahva:hunter2@db.example/vahva")
    assert result.returncode != 0
    assert "DATABASE_URL is not a database URL such as postgres://" in result.stderr
    assert "hunter2" not in result.stderr
    for bad in ("0", "many", "-1"):
        result = _settings(tmp_path, VAHVA_WORKERS=bad)
        assert "VAHVA_WORKERS must be a whole number >= 1" in result.stderr


def test_workers_in_the_file_are_validated(tmp_path: Path) -> None:
    (tmp_path / "vahva.toml").write_text("workers = true\n")
    with pytest.raises(ImproperlyConfigured, match="workers must be a whole number >= 1"):
        load({"VAHVA_DATA_DIR": str(tmp_path)})
    (tmp_path / "vahva.toml").write_text("workers = 3\n")
    assert load({"VAHVA_DATA_DIR": str(tmp_path)}).workers == 3
    assert load({"VAHVA_DATA_DIR": str(tmp_path), "VAHVA_WORKERS": "5"}).workers == 5
    assert public_origin("https://Sso.Example.org:8443/x?y") == "https://sso.example.org:8443"
    assert public_origin("mailto:someone") is None
