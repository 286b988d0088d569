"""Password + TOTP sign-in throughput against the argon2id floor (DESIGN.md §9).

Budget: a full sign-in costs at most ~11 % more than the one argon2id verification in it,
i.e. sign-ins/s per core >= 0.90 * argon2id verifications/s per core.

Phases, each bounded by ``--seconds``:

1. argon2id verify: vahva's configured hasher verifying one hash in a loop, on one core.
2. in-process: the real views through ``django.test.Client`` (CSRF enforced), with a
   FakeClock moved 30 s after every round of people, since a TOTP step is accepted only once.
3. http: ``vahva serve`` on loopback pinned to one core, driven with httpx from the other
   core, sequentially and with ``--clients`` concurrent clients, in real time.

A sign-in is what a browser does: GET /signin/, POST e-mail + password (302 to
/signin/verify/), GET /signin/verify/, POST the code (302 to /security-info/).

With ``--pairs N`` the same server then runs N pairs: the argon2id floor on the server's core
(the server idle), then ``--clients`` clients signing in. Each pair's cpu ratio compares two
figures taken seconds apart, so a machine that slows down or speeds up during the run moves
both alike; the median of the pairs is judged as well as the single run.

With ``--before SRC`` (another checkout's ``src``: ``git archive <commit> src | tar -x -C
DIR``) it compares two versions instead of running the phases: two servers, that checkout's
and this one's, on the same core and the same database, take turns of ``--seconds`` under
``--clients`` clients for ``--rounds`` rounds, the first to go swapped every round. A change
worth a few per cent is lost in a shared machine's drift between two runs minutes apart
(``compare.py``); rounds seconds apart see the same drift, and the median of their after /
before ratios is printed. Both must run on this checkout's migrations.

    .venv/bin/python bench/signin.py [--seconds N] [--people N] [--clients N] [--pairs N]
                                     [--profile] [--before SRC [--rounds N]]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import math
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
from _common import (
    PASSWORD,
    STEP,
    BenchError,
    Figures,
    PeoplePool,
    Person,
    begin_run,
    csrf_token,
    current_step,
    expect,
    load_average,
    make_people,
    password_step,
    pin,
    print_table,
    process_cpu_seconds,
    profile_summary,
    serving,
    shared_database,
    throwaway_vahva,
)

GOAL = 0.90
#: Issue 20's target for the http phase with clients: server CPU ratio to argon2id.
TARGET_CPU_RATIO = 0.60
WARM_UP = 3


def sign_in(browser: Any, person: Person, code: Callable[[], str]) -> None:
    """One complete sign-in with a browser-like client (django.test.Client or httpx.Client).

    Both clients answer ``get``/``post`` with ``status_code``, ``headers`` and ``content``.
    ``code`` is called just before the code is sent, as a person reads it off the app.
    """
    page = password_step(browser, person.email)
    answer = browser.post(
        "/signin/verify/",
        data={"code": code(), "csrfmiddlewaretoken": csrf_token(page.content)},
    )
    expect(answer, 302, "/security-info/")


# -- phase 1: the floor -----------------------------------------------------------------------


def raw_argon2(seconds: float, label: str) -> Figures:
    """Verifications per second of one hash with vahva's hasher and configured parameters."""
    from django.contrib.auth.hashers import get_hasher

    hasher = get_hasher()  # PASSWORD_HASHERS[0]: vahva.accounts.hashers.VahvaArgon2Hasher
    encoded = hasher.encode(PASSWORD, hasher.salt())
    figures = Figures(label)
    cpu = time.process_time()
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        began = time.perf_counter()
        if not hasher.verify(PASSWORD, encoded):
            raise BenchError("argon2id did not verify its own hash")
        figures.latencies.append(time.perf_counter() - began)
        figures.count += 1
    figures.seconds = time.perf_counter() - start
    figures.cpu_seconds = time.process_time() - cpu
    return figures


def argon2_parameters() -> str:
    from django.contrib.auth.hashers import get_hasher

    hasher = get_hasher()
    decoded = hasher.decode(hasher.encode(PASSWORD, hasher.salt()))
    return (
        f"{type(hasher).__name__}: {decoded['variety']} "
        f"m={decoded['memory_cost']} KiB, t={decoded['time_cost']}, p={decoded['parallelism']}"
    )


# -- phase 2: in-process ----------------------------------------------------------------------


def in_process(seconds: float, people: list[Person], fake: Any) -> Figures:
    """Sign-ins through the real views and middleware, without an HTTP server."""
    from django.test import Client

    figures = Figures("in-process (test Client)")

    # One Client for the phase: each Client loads the middleware afresh (WhiteNoise scans the
    # static files then), which a server does once at start, not per browser.
    browser = Client(enforce_csrf_checks=True)

    def once(person: Person) -> None:
        browser.cookies.clear()  # a fresh browser: no session, no known-browser cookie
        sign_in(browser, person, lambda: pyotp.TOTP(person.secret).at(fake()))

    for person in people[:WARM_UP]:
        once(person)
    fake.advance(STEP)
    cpu = time.process_time()
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for person in people:
            began = time.perf_counter()
            once(person)
            figures.latencies.append(time.perf_counter() - began)
            figures.count += 1
            if time.perf_counter() - start >= seconds:
                break
        # Every person has used this step's code: move to the next step.
        fake.advance(STEP)
    figures.seconds = time.perf_counter() - start
    figures.cpu_seconds = time.process_time() - cpu
    figures.note = f"{len(people)} people, FakeClock +{STEP} s per round"
    return figures


# -- phase 3: over HTTP -----------------------------------------------------------------------


def over_http(
    base_url: str, pool: PeoplePool, *, clients: int, seconds: float, server_pid: int, label: str
) -> Figures:
    """``clients`` concurrent browsers signing in until ``seconds`` have passed."""
    import httpx

    figures = Figures(label)
    lock = threading.Lock()
    problems: list[str] = []

    def one(browser: httpx.Client, deadline: float, timed: bool) -> bool:
        person = pool.take(deadline)
        if person is None:
            return False
        browser.cookies.clear()  # a fresh browser: no session, no known-browser cookie
        used = [current_step()]

        def code() -> str:
            used[0] = current_step()
            return str(pyotp.TOTP(person.secret).at(used[0] * STEP))

        began = time.perf_counter()
        try:
            sign_in(browser, person, code)
        except (BenchError, httpx.HTTPError) as exc:
            with lock:
                figures.errors += 1
                problems.append(f"{person.email}: {exc}")
            return True
        finally:
            pool.give_back(person, used[0])
        if timed:
            with lock:
                figures.latencies.append(time.perf_counter() - began)
                figures.count += 1
        return True

    marks: dict[str, float] = {}

    def go() -> None:
        # Runs once, when every client is warmed up: the clock starts for all at once.
        marks["server_cpu"] = process_cpu_seconds(server_pid)
        marks["own_cpu"] = time.process_time()
        marks["start"] = time.perf_counter()
        marks["deadline"] = marks["start"] + seconds

    ready = threading.Barrier(clients + 1, action=go)

    def worker() -> None:
        try:
            with httpx.Client(base_url=base_url, timeout=30) as browser:
                for _ in range(WARM_UP):
                    one(browser, time.perf_counter() + 60, timed=False)
                ready.wait()
                while time.perf_counter() < marks["deadline"]:
                    if not one(browser, marks["deadline"], timed=True):
                        break
        except Exception as exc:
            problems.append(f"client thread: {exc!r}")
            ready.abort()  # the main thread stops waiting and reports
            raise

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    for thread in threads:
        thread.join()
    figures.seconds = time.perf_counter() - marks["start"]
    figures.cpu_seconds = process_cpu_seconds(server_pid) - marks["server_cpu"]
    figures.note = f"load generator used {time.process_time() - marks['own_cpu']:.1f} CPU s"
    if figures.errors:
        figures.note += f", {figures.errors} errors"
    for problem in problems[:5]:
        print(f"  error: {problem}", file=sys.stderr)
    return figures


# -- the command ------------------------------------------------------------------------------


def http_phases(
    env: dict[str, str],
    people: list[Person],
    *,
    clients: int,
    seconds: float,
    cpus: list[int | None],
    pairs: int = 0,
) -> tuple[list[Figures], list[tuple[Figures, Figures]]]:
    """Start ``vahva serve`` on ``cpus[0]``, drive it from ``cpus[1]``; stop it by its pid.
    Then ``pairs`` times the argon2id floor and the ``clients`` load (:func:`report_pairs`).
    The rows of the phases, and the (argon2id, http) pairs."""
    server_cpu, client_cpu = cpus
    rows = []
    paired: list[tuple[Figures, Figures]] = []
    with serving(env, server_cpu, then_pin=client_cpu) as server:
        pool = PeoplePool(people)
        for count in dict.fromkeys((1, clients)):
            label = f"http, {count} client{'s' if count > 1 else ''}"
            rows.append(
                over_http(
                    server.base_url,
                    pool,
                    clients=count,
                    seconds=seconds,
                    server_pid=server.pid,
                    label=label,
                )
            )
        if pool.waited:
            rows[-1].note += f"; waited {pool.waited:.1f} s for unused TOTP steps"
        for number in range(1, pairs + 1):
            # The floor on the server's own core while the server idles, then the load again.
            pin(server_cpu)
            floor = raw_argon2(seconds, f"pair {number}: argon2id")
            pin(client_cpu)
            waited = pool.waited
            load = over_http(
                server.base_url,
                pool,
                clients=clients,
                seconds=seconds,
                server_pid=server.pid,
                label=f"pair {number}: http, {clients}",
            )
            if pool.waited > waited:
                load.note += f"; waited {pool.waited - waited:.1f} s for unused TOTP steps"
            paired.append((floor, load))
    print(
        f"http: vahva serve (uvicorn) on CPU {server_cpu}, load generator on CPU {client_cpu}, "
        f"{len(people)} people"
    )
    return rows, paired


def report_pairs(pairs: list[tuple[Figures, Figures]]) -> None:
    """Each pair's cpu ratio, and the verdict on their median."""
    if not pairs:
        return
    ratios = []
    print("\npairs: the argon2id floor, then the http load, on the same server, seconds apart")
    print(f"{'pair':<6} {'argon2id cpu ms':>16} {'sign-in cpu ms':>15} {'cpu ratio':>10}")
    for number, (floor, load) in enumerate(pairs, 1):
        if not (floor.cpu_ms and load.cpu_ms):
            continue
        ratios.append(floor.cpu_ms / load.cpu_ms)
        print(f"{number:<6} {floor.cpu_ms:16.2f} {load.cpu_ms:15.2f} {ratios[-1]:10.2f}")
        if load.note:
            print(f"  {load.phase}: {load.note}")
    if not ratios:
        return
    median = statistics.median(ratios)
    print(
        f"target cpu ratio >= {TARGET_CPU_RATIO:.2f} (issue 20), median of {len(ratios)} pairs: "
        f"{'met' if median >= TARGET_CPU_RATIO else 'not met'} ({median:.2f}; "
        f"{min(ratios):.2f} to {max(ratios):.2f})"
    )


def before_and_after(
    env: dict[str, str],
    people: list[Person],
    *,
    before: Path,
    rounds: int,
    clients: int,
    seconds: float,
    cpus: list[int | None],
) -> list[tuple[Figures, Figures]]:
    """``rounds`` rounds of the ``clients`` load on a server of ``before`` (a ``src``
    directory) and one of this checkout, both on ``cpus[0]``, the order swapped every round;
    the (before, after) figures of each round."""
    server_cpu, client_cpu = cpus
    before_env = dict(env)
    before_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(before), env.get("PYTHONPATH")]))
    results: list[tuple[Figures, Figures]] = []
    with contextlib.ExitStack() as servers:
        old = servers.enter_context(serving(before_env, server_cpu, then_pin=client_cpu))
        new = servers.enter_context(serving(env, server_cpu, then_pin=client_cpu))
        pool = PeoplePool(people)
        for number in range(1, rounds + 1):
            turns = [("before", old), ("after", new)]
            if number % 2 == 0:
                turns.reverse()  # neither side always goes first (a warmer core, a fresher WAL)
            figures = {
                side: over_http(
                    server.base_url,
                    pool,
                    clients=clients,
                    seconds=seconds,
                    server_pid=server.pid,
                    label=f"round {number}: {side}",
                )
                for side, server in turns
            }
            results.append((figures["before"], figures["after"]))
    print(
        f"http: two vahva serve on CPU {server_cpu} (before: {before}; after: this checkout), "
        f"one database, load generator on CPU {client_cpu}, {clients} clients, {len(people)} people"
    )
    return results


def report_before_and_after(results: list[tuple[Figures, Figures]]) -> None:
    """Each round's server CPU per sign-in on both sides, and the median of after / before."""
    print("\nrounds: the same load on the before and the after server, seconds apart")
    print(f"{'round':<6} {'before cpu ms':>14} {'after cpu ms':>13} {'after/before':>13}")
    ratios = []
    for number, (old, new) in enumerate(results, 1):
        if not (old.cpu_ms and new.cpu_ms):
            print(f"{number:<6} {'no sign-ins in a turn':>42}")
            continue
        ratios.append(new.cpu_ms / old.cpu_ms)
        print(f"{number:<6} {old.cpu_ms:14.2f} {new.cpu_ms:13.2f} {ratios[-1]:13.3f}")
    if not ratios:
        return
    print(
        f"after / before, server CPU per sign-in, median of {len(ratios)} rounds: "
        f"{statistics.median(ratios):.3f} ({min(ratios):.3f} to {max(ratios):.3f}); "
        f"below 1: the after side is cheaper"
    )


def report(rows: list[Figures], argon2: list[Figures]) -> None:
    """The table, and the verdict on the busiest phase (the last sign-in row)."""
    # The faster argon2id run is the floor: a neighbour slowing one run down must not make
    # the sign-ins look better than they are.
    floor = max(argon2, key=lambda row: row.rate)
    print(
        "\nops/s = sign-ins (argon2id rows: verifications) per wall-clock second; ratio = ops/s "
        "over the faster argon2id row;\ncpu ms/op = CPU time per op of the serving side (the "
        "server process for http); cpu ratio = argon2id cpu ms over this row's.\n"
    )
    print_table(rows, floor)
    for row in rows:
        if row.note:
            print(f"  {row.phase}: {row.note}")
    slow, fast = sorted(row.rate for row in argon2)
    if fast and (fast - slow) / fast > 0.10:
        print(
            f"\nwarning: the argon2id rate moved {100 * (fast - slow) / fast:.0f} % between its "
            "two runs: the machine is busy; trust the cpu ratio more, or run again"
        )
    judged = [row for row in rows if all(row is not a for a in argon2)][-1]
    ratio = judged.rate / floor.rate if floor.rate else 0.0
    cpu_ratio = floor.cpu_ms / judged.cpu_ms if floor.cpu_ms and judged.cpu_ms else math.nan
    print(
        f"\ngoal >= {GOAL:.2f}: {'met' if ratio >= GOAL else 'not met'} "
        f"({judged.phase}: {ratio:.2f} of the argon2id rate, cpu ratio {cpu_ratio:.2f})"
    )
    print(
        f"target cpu ratio >= {TARGET_CPU_RATIO:.2f} (issue 20): "
        f"{'met' if cpu_ratio >= TARGET_CPU_RATIO else 'not met'} ({judged.phase}: {cpu_ratio:.2f})"
    )


# -- django-allauth, the same-stack peer, in the same run ---------------------------------------

#: The peer's harness (from ../shared/peers/allauth/, kept here so that a run can be repeated).
ALLAUTH = Path(__file__).resolve().parent / "peers" / "allauth"
#: Issue 20's target: vahva's sign-ins per second over django-allauth's, same run.
TARGET_OVER_ALLAUTH = 1.5


def install_allauth(venv: Path) -> Path:
    """django-allauth's project requirements (pinned: the same Django, uvicorn, argon2-cffi,
    httpx and pyotp versions as the harness was measured with) in ``venv``, plus the httptools
    and uvloop ``vahva serve`` runs on, so that both servers run the same HTTP stack; kept if it
    has them. Its python."""
    import importlib.metadata as md
    import os
    import shutil
    import subprocess

    python = venv / "bin" / "python"
    if (venv / "bin" / "uvicorn").exists() and (venv / ".vahva-bench-ready").exists():
        print(f"allauth: reusing {venv}")
        return python
    uv = [shutil.which("uv")] if shutil.which("uv") else [sys.executable, "-m", "uv"]
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    began = time.perf_counter()
    same = [f"{name}=={md.version(name)}" for name in ("httptools", "uvloop")]
    for command in (
        [*uv, "venv", "--python", sys.executable, str(venv)],
        [*uv, "pip", "install", "--python", str(python), "-r", str(ALLAUTH / "requirements.txt")],
        [*uv, "pip", "install", "--python", str(python), *same],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode:
            raise BenchError(f"{' '.join(command[:4])}: {done.stderr.strip()[-1500:]}")
    (venv / ".vahva-bench-ready").touch()
    print(f"allauth: installed into {venv} in {time.perf_counter() - began:.0f} s")
    return python


def allauth_rows(venv: Path, *, seconds: float, clients: int) -> dict[str, tuple[float, float]]:
    """Run the peer's harness (its own argon2id floors, in-process and http phases) and print
    its output; phase -> (ops/s, cpu ms/op) of its table."""
    import os
    import subprocess

    python = install_allauth(venv)
    command = [
        str(python),
        str(ALLAUTH / "allauth_signin.py"),
        "--seconds",
        f"{seconds:g}",
        "--clients",
        str(clients),
    ]
    env = {**os.environ, "VAHVA_BENCH": str(Path(__file__).resolve().parent)}
    for name in ("DJANGO_SETTINGS_MODULE", "VAHVA_DATA_DIR", "DATABASE_URL", "PYTHONPATH"):
        env.pop(name, None)
    print(f"\n== django-allauth, same run (load average {load_average()}) ==")
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    print(done.stdout)
    if done.returncode:
        raise BenchError(f"the allauth harness exited {done.returncode}: {done.stderr[-2000:]}")
    return table_rows(done.stdout)


def table_rows(output: str) -> dict[str, tuple[float, float]]:
    """phase -> (ops/s, cpu ms/op) from a print_table table."""
    rows = {}
    for line in output.splitlines():
        phase, _sep, rest = line.partition("  ")
        cells = rest.split()
        if len(cells) == 7 and phase.strip():
            try:
                rows[phase.strip()] = (float(cells[1]), float(cells[5]))
            except ValueError:
                continue
    return rows


def compare_allauth(rows: list[Figures], peer: dict[str, tuple[float, float]]) -> None:
    """Same-run ratios of vahva's http rows over the peer's, and the verdict."""
    print(
        "\nvahva / django-allauth, same run (sign-ins/s; CPU per sign-in, allauth's over vahva's):"
    )
    judged = None
    for row in rows:
        theirs = peer.get(row.phase)
        if not row.phase.startswith("http") or theirs is None or not theirs[0]:
            continue
        cpu = theirs[1] / row.cpu_ms if row.cpu_ms else math.nan
        print(f"  {row.phase:<20} {row.rate / theirs[0]:5.2f}x sign-ins/s, {cpu:5.2f}x by CPU")
        judged = (row.phase, row.rate / theirs[0], cpu)
    if judged is None:
        print("  no http rows to compare")
        return
    phase, rate, cpu = judged
    print(
        f"target >= {TARGET_OVER_ALLAUTH:.1f}x django-allauth (issue 20): "
        f"{'met' if rate >= TARGET_OVER_ALLAUTH else 'not met'} ({phase}: {rate:.2f}x sign-ins/s; "
        f"by CPU per sign-in {cpu:.2f}x: {'met' if cpu >= TARGET_OVER_ALLAUTH else 'not met'})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase (default 10)")
    parser.add_argument(
        "--people",
        type=int,
        default=20,
        help="people for the in-process phase (default 20); the HTTP phases get at least "
        "enough for 30 s at the argon2 rate, since each may use a TOTP step only once",
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument(
        "--pairs",
        type=int,
        default=0,
        help="then N pairs of the argon2id floor and the --clients load on the same server, "
        "judged by their median cpu ratio (default 0)",
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="another checkout's src directory: instead of the phases, its server and this "
        "checkout's take turns under the --clients load (see --rounds)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=8,
        help="with --before: turns of --seconds on each side (default 8)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process phase")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP phases")
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="vahva's database: a fresh SQLite file in WAL mode (default), or a throwaway "
        "PostgreSQL (tests/postgres_server.py, loopback, durability off)",
    )
    parser.add_argument(
        "--allauth",
        action="store_true",
        help="then run django-allauth's sign-in (bench/peers/allauth, the same-stack peer) in "
        "the same run, and compare",
    )
    parser.add_argument(
        "--allauth-venv",
        type=Path,
        help="the peer's virtualenv: reused when ready, else made there (default: a temporary "
        "one, removed afterwards)",
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.people < 1 or args.clients < 1 or args.pairs < 0:
        parser.error("--seconds, --people and --clients must be positive, --pairs not negative")
    if args.before is not None and not (args.before / "vahva" / "__init__.py").is_file():
        parser.error(f"--before {args.before}: not a src directory with vahva in it")
    if args.rounds < 1:
        parser.error("--rounds must be positive")

    # The server (and the in-process phases) on one core, the load generator on another.
    server_cpu, client_cpu = begin_run()

    profile = cProfile.Profile() if args.profile else None
    pairs: list[tuple[Figures, Figures]] = []
    with (
        shared_database(args.database) as (database_url, database),
        throwaway_vahva(database_url=database_url) as env,
    ):
        print(f"database: {database}")
        from django.db import connections

        from vahva import clock as vahva_clock
        from vahva.clock import FakeClock

        pin(server_cpu)
        print(f"hasher: {argon2_parameters()}; {args.seconds:g} s per phase, CPU {server_cpu}")
        argon2 = [raw_argon2(args.seconds, "argon2id verify, 1 core")]
        rows = [argon2[0]]

        def http_people() -> list[Person]:
            # Enough people for a whole TOTP step at the uncontended argon2id rate (CPU time
            # per verification, which a busy neighbour does not inflate), plus the warm-ups.
            per_step = STEP * 1000 / (argon2[0].cpu_ms or 1.0)
            needed = math.ceil(per_step * 1.3) + 2 * args.clients * WARM_UP
            people = make_people(
                max(args.people, needed),
                prefix="http",
                registered_at=vahva_clock.now() - dt.timedelta(hours=1),
            )
            connections.close_all()  # the servers get the SQLite file to themselves
            return people

        if args.before is not None:
            rounds = before_and_after(
                env,
                http_people(),
                before=args.before,
                rounds=args.rounds,
                clients=args.clients,
                seconds=args.seconds,
                cpus=[server_cpu, client_cpu],
            )
            pin(None)
            print(f"argon2id floor: {argon2[0].cpu_ms:.2f} ms of CPU per verification")
            report_before_and_after(rounds)
            return 0

        fake = FakeClock(dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC))
        vahva_clock.install(fake)
        try:
            people = make_people(
                args.people, prefix="inproc", registered_at=fake() - dt.timedelta(hours=1)
            )
            if profile:
                # First requests import the URL conf and the views (seconds): not what the
                # profile is for, so a short unprofiled run goes first.
                in_process(min(args.seconds, 3.0), people, fake)
                profile.enable()
            rows.append(in_process(args.seconds, people, fake))
            if profile:
                profile.disable()
                rows[-1].note += "; under cProfile, so slower than without"
        finally:
            vahva_clock.install(None)

        if not args.no_http:
            http_rows, pairs = http_phases(
                env,
                http_people(),
                clients=args.clients,
                seconds=args.seconds,
                cpus=[server_cpu, client_cpu],
                pairs=args.pairs,
            )
            rows += http_rows

        argon2.append(raw_argon2(args.seconds, "argon2id verify, again"))
        rows.append(argon2[-1])
    pin(None)

    report(rows, argon2)
    report_pairs(pairs)
    if profile:
        profile_summary(profile, "the in-process phase")
    if args.allauth and not args.no_http:
        import shutil
        import tempfile

        temporary = None if args.allauth_venv else Path(tempfile.mkdtemp(prefix="allauth-venv-"))
        try:
            venv = args.allauth_venv or (temporary / "venv")  # type: ignore[operator]
            peer = allauth_rows(venv, seconds=args.seconds, clients=args.clients)
        finally:
            if temporary is not None:
                shutil.rmtree(temporary, ignore_errors=True)
        compare_allauth(rows, peer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
