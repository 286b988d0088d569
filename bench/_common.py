"""Shared by the bench scripts: a throwaway vahva, people with TOTP, CPU pinning, figures.

Everything here is for measuring, never for asserting: the scripts print numbers and ratios
(DESIGN.md §9) and leave the judging to the reader.
"""

from __future__ import annotations

import collections
import contextlib
import cProfile
import io
import math
import os
import platform
import pstats
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

#: The password every benchmark person has (long enough for vahva's validators).
PASSWORD = "correct horse battery staple"
LOOPBACK = "127.0.0.1"
#: Seconds per TOTP step (RFC 6238's default, which vahva uses).
STEP = 30
_CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


class BenchError(Exception):
    """A page answered something a sign-in does not expect (wrong status, no token...)."""


# -- a throwaway deployment ------------------------------------------------------------------


@contextlib.contextmanager
def throwaway_vahva(*, database_url: str = "") -> Iterator[dict[str, str]]:
    """Configure, set up and migrate a vahva in a temporary data dir; yield the environment.

    Production settings (``vahva.settings.main``, DEBUG off) with a configuration written by
    ``vahva init``, so hashing and encryption cost what they cost in a deployment. Plain http
    on loopback only, so cookies are not ``Secure``. The directory is removed afterwards.
    ``database_url`` names the benchmark's own database (a throwaway PostgreSQL); by default
    it is a fresh SQLite file in the data dir.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="vahva-bench-"))
    env = {
        "VAHVA_DATA_DIR": str(data_dir),
        "VAHVA_SECURE_COOKIES": "false",
        "VAHVA_DEBUG": "false",
        "VAHVA_ALLOWED_HOSTS": f"{LOOPBACK},localhost,testserver",
        "DJANGO_SETTINGS_MODULE": "vahva.settings.main",
    }
    saved = {name: os.environ.get(name) for name in [*env, "VAHVA_CONFIG", "DATABASE_URL"]}
    os.environ.update(env)
    # The deployment's own configuration file or database must not leak into the benchmark.
    os.environ.pop("VAHVA_CONFIG", None)
    os.environ.pop("DATABASE_URL", None)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    try:
        from vahva import cli

        with contextlib.redirect_stdout(io.StringIO()):
            cli.init([])
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
        yield dict(os.environ)
    finally:
        from django.db import connections

        connections.close_all()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if os.environ.get("VAHVA_BENCH_KEEP"):
            # For a look at the server's log after a run with errors.
            print(f"kept the data directory: {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


@dataclass(frozen=True)
class Person:
    email: str
    secret: str


def make_people(count: int, *, prefix: str, registered_at: Any) -> list[Person]:
    """``count`` people, each with the same password and one TOTP method of their own.

    The password is hashed once and the hash shared: creating 2,000 people one argon2 hash
    at a time would take longer than the benchmark, and verifying costs the same either way.
    Methods go through ``vahva.methods.service.save_new``, as the enrolment does.
    """
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from vahva.accounts.models import User, normalise_email
    from vahva.methods import service
    from vahva.methods.totp import generate_secret

    encoded = make_password(PASSWORD)
    emails = [normalise_email(f"{prefix}{i:06d}@bench.example") for i in range(count)]
    people = []
    with transaction.atomic():
        users = User.objects.bulk_create(
            [
                User(email=email, full_name=f"Bench {i}", password=encoded)
                for i, email in enumerate(emails)
            ]
        )
        for user in users:
            secret = generate_secret()
            service.save_new(user, "totp", now=registered_at, secret=secret)
            people.append(Person(user.email, secret))
    return people


def csrf_token(html: bytes) -> str:
    found = _CSRF.search(html)
    if not found:
        raise BenchError("no CSRF token in the page")
    return found.group(1).decode()


def expect(response: Any, status: int, location: str | None = None) -> None:
    """Raise BenchError unless ``response`` (Django's or httpx's) has this status/Location."""
    got = response.headers.get("Location")
    if response.status_code != status or (location is not None and got != location):
        raise BenchError(
            f"got {response.status_code} {got or ''}, wanted {status} {location or ''}"
        )


# -- processors -------------------------------------------------------------------------------


_AFFINITY = set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()


def usable_cpus() -> list[int]:
    return sorted(_AFFINITY)


def pin(cpu: int | None) -> None:
    """Run on ``cpu`` only; None: wherever the process could run at start.

    Linux applies this to the calling thread and to the threads it starts afterwards, so pin
    before starting load-generator threads.
    """
    if _AFFINITY and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu} if cpu is not None else _AFFINITY)


def machine() -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return f"{model}, {os.cpu_count()} CPUs (usable {usable_cpus()}), load average {load}"


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of another process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of stat(5); the split above drops the first two.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- a server on loopback ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def start_server(
    env: dict[str, str], port: int, cpu: int | None, log: Path
) -> subprocess.Popen[bytes]:
    """``vahva serve`` on loopback, pinned to ``cpu`` with taskset when there is one.

    taskset execs the server, so the returned pid is the server's own.
    """
    vahva = Path(sys.executable).with_name("vahva")
    command = [str(vahva), "serve", "--host", LOOPBACK, "--port", str(port)]
    taskset = shutil.which("taskset")
    if cpu is not None and taskset:
        command = [taskset, "-c", str(cpu), *command]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


@dataclass
class Serving:
    """A running ``vahva serve``: its address and pid (for its CPU time from /proc)."""

    base_url: str
    pid: int
    log: Path


@contextlib.contextmanager
def serving(
    env: dict[str, str],
    cpu: int | None,
    *,
    ready_path: str = "/signin/",
    # A busy shared machine takes more than 30 s to import and start a pinned server.
    timeout: float = 180.0,
    then_pin: int | None = None,
) -> Iterator[Serving]:
    """``vahva serve`` on a free loopback port, pinned to ``cpu``, up and answering
    ``ready_path``; the benchmark process is then pinned to ``then_pin``. On an error the end
    of the server's log is printed; the server is always stopped by its pid, and the
    benchmark process pinned back to ``cpu``. The server inherits ``env``'s PYTHONPATH
    (bench/compare.py's "before" runs another checkout's ``src`` that way).
    """
    port = free_port()
    # One log per server: signin.py --before runs two at once in the same data directory.
    log = Path(env["VAHVA_DATA_DIR"]) / f"serve-{port}.log"
    server = start_server(env, port, cpu, log)
    base_url = f"http://{LOOPBACK}:{port}"
    try:
        wait_until_up(server, f"{base_url}{ready_path}", timeout=timeout)
        pin(then_pin)
        yield Serving(base_url, server.pid, log)
    except BaseException:
        print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        stop_server(server)
        pin(cpu)


def wait_until_up(proc: subprocess.Popen[bytes], url: str, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"the server exited with {proc.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise BenchError(f"the server did not answer {url} within {timeout:.0f} s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server we started, by its pid: SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# -- TOTP people over real time ---------------------------------------------------------------


def current_step() -> int:
    """The current TOTP step (RFC 6238, 30 s) by the real clock."""
    return int(time.time()) // STEP


class PeoplePool:
    """Hands out people whose current TOTP step is unused: one sign-in per person per step.

    First in, first out, so the head is the person who signed in longest ago; when even the
    head has used this step, every free person has, and ``take`` waits for the next step
    (the pool is sized so that this should not happen; waits are counted and reported).
    """

    def __init__(self, people: list[Person]) -> None:
        self._free: collections.deque[tuple[Person, int]] = collections.deque(
            (person, -1) for person in people
        )
        self._lock = threading.Lock()
        self.waited = 0.0

    def take(self, deadline: float) -> Person | None:
        while time.perf_counter() < deadline:
            with self._lock:
                if self._free and self._free[0][1] < current_step():
                    return self._free.popleft()[0]
            time.sleep(0.05)
            with self._lock:
                self.waited += 0.05
        return None

    def give_back(self, person: Person, step: int) -> None:
        with self._lock:
            self._free.append((person, step))


# -- figures ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class Figures:
    """What one phase measured: completed operations, wall time, latencies, CPU time."""

    phase: str
    count: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    cpu_seconds: float | None = None
    errors: int = 0
    note: str = ""

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float | None:
        """CPU milliseconds per operation on the measured side (None: not known)."""
        if self.cpu_seconds is None or not self.count:
            return None
        return 1000 * self.cpu_seconds / self.count


def print_table(rows: Sequence[Figures], floor: Figures) -> None:
    """One line per phase; ratios against ``floor`` (the raw argon2id verify rate)."""
    header = (
        f"{'phase':<28} {'ops':>6} {'ops/s':>8} {'ratio':>6} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'cpu ms/op':>10} {'cpu ratio':>9}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = row.rate / floor.rate if floor.rate else math.nan
        cpu = f"{row.cpu_ms:10.2f}" if row.cpu_ms is not None else f"{'-':>10}"
        cpu_ratio = (
            f"{floor.cpu_ms / row.cpu_ms:9.2f}"
            if row.cpu_ms and floor.cpu_ms is not None
            else f"{'-':>9}"
        )
        print(
            f"{row.phase:<28} {row.count:>6} {row.rate:8.1f} {ratio:6.2f}"
            f" {1000 * percentile(row.latencies, 50):8.1f}"
            f" {1000 * percentile(row.latencies, 99):8.1f} {cpu} {cpu_ratio}"
        )


def profile_summary(profile: cProfile.Profile, label: str, top: int = 25) -> None:
    """Where the time went, argon2 apart. cProfile inflates Python-heavy code, not C."""
    stats = pstats.Stats(profile, stream=io.StringIO())
    total: float = getattr(stats, "total_tt", 0.0) or 1e-9
    entries: dict[tuple[str, int, str], tuple[Any, ...]] = getattr(stats, "stats", {})
    # cumulative time of argon2-cffi's verify_secret: the hashing itself
    argon2 = sum(
        entry[3]
        for (filename, _line, name), entry in entries.items()
        if name == "verify_secret" and "argon2" in filename
    )
    print(
        f"\ncProfile of {label}: {total:.2f} s profiled, argon2 verify_secret "
        f"{argon2:.2f} s ({100 * argon2 / total:.0f} %), everything else "
        f"{total - argon2:.2f} s ({100 * (total - argon2) / total:.0f} %)"
    )
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        lines = out.getvalue().splitlines()
        first = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        print(f"\ntop {top} by {order}:")
        print("\n".join(lines[first:]).rstrip())


# -- load -------------------------------------------------------------------------------------


def post_form(client: Any, path: str, fields: dict[str, str], headers: dict[str, str]) -> Any:
    """POST ``fields`` form-encoded (as OAuth libraries do) with django.test.Client or httpx."""
    import httpx

    form = "application/x-www-form-urlencoded"
    body = urlencode(fields)
    if isinstance(client, httpx.Client):
        return client.post(path, content=body, headers={**headers, "Content-Type": form})
    return client.post(path, body, content_type=form, headers=headers)


def measure(
    label: str,
    ops: Sequence[Callable[[], None]],
    *,
    seconds: float,
    server_pid: int | None = None,
    warm_up: int = 3,
) -> Figures:
    """Call each op in a loop until ``seconds`` have passed; one op per concurrent client.

    An op is one client's unit of work (a grant, a round trip) with state of its own. A single
    op runs in this thread (so cProfile sees it, and the test client keeps this thread's
    database connection); several run in a thread each, started together once all are warmed
    up. CPU time is the server's (``server_pid``) or, in-process, this process's. A client
    whose op fails stops: its state (a revoked token family, say) may be spoiled.
    """
    import httpx

    figures = Figures(label)
    lock = threading.Lock()
    problems: list[str] = []
    marks: dict[str, float] = {}

    def cpu_now() -> float:
        return process_cpu_seconds(server_pid) if server_pid else time.process_time()

    def go() -> None:
        # Runs once, when every client is warmed up: the clock starts for all at once.
        marks["cpu"] = cpu_now()
        marks["own_cpu"] = time.process_time()
        marks["start"] = time.perf_counter()
        marks["deadline"] = marks["start"] + seconds

    def loop(op: Callable[[], None]) -> None:
        while time.perf_counter() < marks["deadline"]:
            began = time.perf_counter()
            try:
                op()
            except (BenchError, httpx.HTTPError) as exc:
                with lock:
                    figures.errors += 1
                    problems.append(str(exc))
                return
            with lock:
                figures.latencies.append(time.perf_counter() - began)
                figures.count += 1

    if len(ops) == 1:
        for _ in range(warm_up):
            ops[0]()
        go()
        loop(ops[0])
    else:
        ready = threading.Barrier(len(ops) + 1, action=go)

        def worker(op: Callable[[], None]) -> None:
            try:
                for _ in range(warm_up):
                    op()
                ready.wait()
            except Exception as exc:
                problems.append(f"warm-up: {exc!r}")
                ready.abort()  # the main thread stops waiting and reports
                raise
            loop(op)

        threads = [threading.Thread(target=worker, args=(op,), daemon=True) for op in ops]
        for thread in threads:
            thread.start()
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            raise BenchError(f"{label}: {problems[:1]}") from None
        for thread in threads:
            thread.join()
    figures.seconds = time.perf_counter() - marks["start"]
    figures.cpu_seconds = cpu_now() - marks["cpu"]
    if server_pid:
        figures.note = f"load generator used {time.process_time() - marks['own_cpu']:.1f} CPU s"
    else:
        figures.note = "CPU time includes the test client"
    if figures.errors:
        figures.note += f", {figures.errors} errors (a failing client stops)"
    for problem in problems[:5]:
        print(f"  error: {problem}", file=sys.stderr)
    return figures


def timed_alone(seconds: float, action: Callable[[], object]) -> float:
    """CPU milliseconds per call of ``action`` in a loop (at least 3 calls)."""
    calls = 0
    cpu = time.process_time()
    start = time.perf_counter()
    while calls < 3 or time.perf_counter() - start < seconds:
        action()
        calls += 1
    return 1000 * (time.process_time() - cpu) / calls


# -- a server's resources (push.py) ----------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (KiB) and Threads of a process, from /proc/<pid>/status (Linux)."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "Threads"):
            found[name] = int(value.split()[0])
    return found


def open_fds(pid: int) -> int:
    """How many file descriptors (sockets included) a process has open (Linux /proc)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def fd_limit(pid: int) -> str:
    """A process's soft and hard open-file limits, as /proc/<pid>/limits gives them."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return f"{soft} soft, {hard} hard"
    return "unknown"


def raise_nofile() -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (children inherit it);
    returns (soft, hard) afterwards."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


# -- the start of every run --------------------------------------------------------------------


def load_average() -> str:
    """The machine's load average (1, 5 and 15 minutes), for the record of a run."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def begin_run() -> tuple[int | None, int | None]:
    """Print the machine and the time; return (server CPU, load generator CPU).

    The server (and in-process phases) get the last usable core, the load generator the
    first; with one usable core they share it, and a warning says so.
    """
    import logging

    cpus = usable_cpus()
    server_cpu = cpus[-1] if cpus else None
    client_cpu = cpus[0] if len(cpus) > 1 else None
    print(f"machine: {machine()}")
    print(f"python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"load average: {load_average()} (1, 5, 15 min)")
    if client_cpu is None:
        print("warning: one usable CPU: server and load generator share it", file=sys.stderr)
    # vahva's LOGGING sends INFO to the console; httpx would log every request there.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return server_cpu, client_cpu


def password_step(browser: Any, email: str) -> Any:
    """Sign-in page, the password (CSRF token from the form), then the second-factor page.

    ``browser`` is a django.test.Client or an httpx.Client; returns the /signin/verify/ page.
    """
    page = browser.get("/signin/")
    expect(page, 200)
    answer = browser.post(
        "/signin/",
        data={
            "email": email,
            "password": PASSWORD,
            "csrfmiddlewaretoken": csrf_token(page.content),
        },
    )
    expect(answer, 302, "/signin/verify/")
    page = browser.get("/signin/verify/")
    expect(page, 200)
    return page


def child_pids(pid: int) -> list[int]:
    """The pids of a process's children (Linux /proc): a pre-forking server's workers."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


# -- several nodes: a Redis and one database for them all (push.py --nodes 2) ----------------


@dataclass(frozen=True)
class Service:
    """A server a benchmark started for itself: what it is (for the output), its URL, pid."""

    description: str
    url: str
    pid: int


def _pong(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def throwaway_redis(timeout: float = 20.0) -> Iterator[Service]:
    """``redis-server`` as our child, as tests/redis_server.py runs it: on 127.0.0.1 only (it
    listens on every interface without ``--bind``), persistence off, in a temporary
    directory. Stopped by its pid (SIGTERM, then SIGKILL) and the directory removed."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise BenchError("redis-server is not installed: apt-get install -y redis-server")
    version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
    ).stdout
    found = re.search(r"v=(\S+)", version)
    directory = Path(tempfile.mkdtemp(prefix="vahva-bench-redis-"))
    log = directory / "redis.log"
    port = free_port()
    command = [binary, "--port", str(port), "--bind", LOOPBACK, "--save", "", "--appendonly"]
    command += ["no", "--dir", str(directory), "--logfile", ""]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=directory, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not _pong(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(
                    f"redis-server did not answer on port {port} (exit {process.poll()}):\n"
                    + log.read_text(errors="replace")[-2000:]
                )
            time.sleep(0.05)
        yield Service(
            f"Redis {found.group(1) if found else '?'} on {LOOPBACK}:{port}",
            f"redis://{LOOPBACK}:{port}/0",
            process.pid,
        )
    finally:
        stop_server(process)
        shutil.rmtree(directory, ignore_errors=True)


def postgres_installed() -> bool:
    """Whether tests/postgres_server.py finds a PostgreSQL to start."""
    return any(Path("/usr/lib/postgresql").glob("*/bin/postgres")) or bool(shutil.which("postgres"))


@contextlib.contextmanager
def shared_database(choice: str) -> Iterator[tuple[str, str]]:
    """The database every node uses: (database URL, what it is, for the output).

    ``"postgresql"``: a throwaway cluster started with tests/postgres_server.py's
    ``PostgresServer`` (loopback only, durability off, ``max_connections=200``), removed
    afterwards. ``"sqlite"``: the URL is empty, so ``throwaway_vahva`` makes its SQLite file,
    which the nodes share in WAL mode. ``"auto"``: PostgreSQL when it is installed.
    """
    if choice == "auto":
        choice = "postgresql" if postgres_installed() else "sqlite"
    if choice == "sqlite":
        yield "", "SQLite in WAL mode, one file in the data dir (PostgreSQL not used)"
        return
    repo = str(Path(__file__).resolve().parents[1])
    if repo not in sys.path:
        sys.path.append(repo)  # for tests.postgres_server
    from tests.postgres_server import PostgresServer

    try:
        server = PostgresServer()
    except FileNotFoundError as exc:
        raise BenchError(str(exc)) from None
    try:
        server.start()
        url = server.create_database()
        assert server.process is not None
        version = re.search(
            r"\(PostgreSQL\) (\S+)",
            subprocess.run(
                [str(server.bin_dir / "postgres"), "--version"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout,
        )
        yield (
            url,
            f"PostgreSQL {version.group(1) if version else '?'} on {LOOPBACK}:{server.port}, pid "
            f"{server.process.pid} (tests/postgres_server.py: fsync and synchronous_commit off)",
        )
    finally:
        server.remove()
