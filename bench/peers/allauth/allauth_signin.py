"""Password + TOTP sign-in throughput of django-allauth (account + mfa) against the argon2id
floor: the twin of vahva's bench/signin.py, for a side-by-side comparison.

Run with the allauth project's virtualenv, from anywhere:

    /tmp/peer-allauth/venv/bin/python /tmp/peer-allauth/allauth_signin.py [--seconds N]
        [--clients N] [--people N] [--profile] [--no-http] [--sql N]

It reuses vahva's bench/_common.py (from the private clone /tmp/peer-allauth/vahva, or
$VAHVA_BENCH) for everything that is not allauth-specific: the figures and their table,
PeoplePool (one sign-in per person per 30 s step), CPU pinning, the server's CPU time from
/proc/<pid>/stat, free ports, waiting for and stopping the server by its pid.

A sign-in is what a browser does, CSRF enforced, starting from an empty cookie jar:

1. GET  /accounts/login/                 200, the form and its CSRF token;
2. POST /accounts/login/ (login=e-mail, password) -> 302 /accounts/2fa/authenticate/;
3. GET  /accounts/2fa/authenticate/      200, the code form;
4. POST /accounts/2fa/authenticate/ (code) -> 302 /home/ (LOGIN_REDIRECT_URL, a
   login_required page).

Anything else is an error and not a sign-in. The warm-up sign-ins (untimed) also follow the
last redirect and require "Signed in as <e-mail>" on /home/.

Phases (each bounded by --seconds): argon2id verify (the project's hasher, pinned to the
server CPU); in-process (django.test.Client, real clock, PeoplePool); http 1 client and
http N clients (uvicorn, same version and options as `vahva serve`, pinned with taskset);
argon2id verify again.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = HERE / "project"
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, os.environ.get("VAHVA_BENCH", str(HERE / "vahva" / "bench")))
sys.path.insert(0, str(PROJECT))

import pyotp  # noqa: E402
from _common import (  # noqa: E402
    LOOPBACK,
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
    free_port,
    pin,
    print_table,
    process_cpu_seconds,
    profile_summary,
    stop_server,
    wait_until_up,
)

WARM_UP = 3
LOGIN = "/accounts/login/"
MFA = "/accounts/2fa/authenticate/"
HOME = "/home/"


# -- a throwaway project ------------------------------------------------------------------------


@contextlib.contextmanager
def throwaway_project() -> Iterator[dict[str, str]]:
    """A fresh SQLite database for the allauth project in a temporary dir, migrated."""
    data_dir = Path(tempfile.mkdtemp(prefix="allauth-bench-"))
    env = {
        "PEER_DB": str(data_dir / "db.sqlite3"),
        "DJANGO_SETTINGS_MODULE": "peer.settings",
    }
    os.environ.update(env)
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
        yield {**os.environ, "DATA_DIR": str(data_dir)}
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(data_dir, ignore_errors=True)


def make_people(count: int, *, prefix: str) -> list[Person]:
    """``count`` users with the same password, a verified primary e-mail address and TOTP.

    As in vahva's bench, the password is hashed once and the hash shared (verifying costs the
    same either way). TOTP goes through allauth's own internals, as its enrolment does
    (``allauth.mfa.totp.internal.flows.activate_totp``): ``TOTP.activate`` with a secret from
    ``generate_totp_secret``, then the recovery codes allauth generates alongside
    (``RecoveryCodes.activate``).
    """
    from allauth.account.models import EmailAddress
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    User = get_user_model()
    encoded = make_password(PASSWORD)
    people = []
    with transaction.atomic():
        users = User.objects.bulk_create(
            [
                User(
                    username=f"{prefix}{i:06d}",
                    email=f"{prefix}{i:06d}@bench.example",
                    password=encoded,
                )
                for i in range(count)
            ]
        )
        EmailAddress.objects.bulk_create(
            [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users]
        )
        for user in users:
            secret = generate_totp_secret()
            TOTP.activate(user, secret)
            RecoveryCodes.activate(user)
            people.append(Person(user.email, secret))
    return people


# -- one sign-in --------------------------------------------------------------------------------


def sign_in(
    browser: Any, person: Person, code: Callable[[], str], *, check_home: bool = False
) -> None:
    """One complete sign-in with a django.test.Client or an httpx.Client (empty cookie jar)."""
    page = browser.get(LOGIN)
    expect(page, 200)
    answer = browser.post(
        LOGIN,
        data={
            "login": person.email,
            "password": PASSWORD,
            "csrfmiddlewaretoken": csrf_token(page.content),
        },
    )
    expect(answer, 302, MFA)
    page = browser.get(MFA)
    expect(page, 200)
    answer = browser.post(
        MFA, data={"code": code(), "csrfmiddlewaretoken": csrf_token(page.content)}
    )
    expect(answer, 302, HOME)
    if check_home:
        home = browser.get(HOME)
        expect(home, 200)
        if f"Signed in as {person.email}".encode() not in home.content:
            raise BenchError("/home/ does not show the signed-in user")


def code_for(person: Person, used: list[int]) -> Callable[[], str]:
    def code() -> str:
        used[0] = current_step()
        return str(pyotp.TOTP(person.secret).at(used[0] * STEP))

    return code


# -- phase 1: the floor -------------------------------------------------------------------------


def raw_argon2(seconds: float, label: str) -> Figures:
    """Verifications per second of one hash with the project's hasher (PASSWORD_HASHERS[0])."""
    from django.contrib.auth.hashers import get_hasher

    hasher = get_hasher()
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


# -- phase 2: in-process ------------------------------------------------------------------------


def in_process(seconds: float, pool: PeoplePool) -> Figures:
    """Sign-ins through the real views and middleware, without an HTTP server (real clock)."""
    from django.test import Client

    figures = Figures("in-process (test Client)")
    browser = Client(enforce_csrf_checks=True)

    def once(timed: bool, deadline: float) -> bool:
        person = pool.take(deadline)
        if person is None:
            return False
        browser.cookies.clear()
        used = [current_step()]
        try:
            sign_in(browser, person, code_for(person, used), check_home=not timed)
        finally:
            pool.give_back(person, used[0])
        return True

    for _ in range(WARM_UP):
        once(False, time.perf_counter() + 60)
    cpu = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        if not once(True, deadline):
            break
        figures.latencies.append(time.perf_counter() - began)
        figures.count += 1
    figures.seconds = time.perf_counter() - start
    figures.cpu_seconds = time.process_time() - cpu
    figures.note = "real clock, PeoplePool; CPU time includes the test client"
    return figures


# -- phase 3: over HTTP -------------------------------------------------------------------------


def over_http(
    base_url: str, pool: PeoplePool, *, clients: int, seconds: float, server_pid: int, label: str
) -> Figures:
    """``clients`` concurrent browsers signing in until ``seconds`` have passed (as signin.py)."""
    import httpx

    figures = Figures(label)
    lock = threading.Lock()
    problems: list[str] = []

    def one(browser: httpx.Client, deadline: float, timed: bool) -> bool:
        person = pool.take(deadline)
        if person is None:
            return False
        browser.cookies.clear()  # a fresh browser
        used = [current_step()]
        began = time.perf_counter()
        try:
            sign_in(browser, person, code_for(person, used), check_home=not timed)
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
            ready.abort()
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


def start_server(
    env: dict[str, str], port: int, cpu: int | None, log: Path
) -> subprocess.Popen[bytes]:
    """uvicorn with the options `vahva serve` passes to uvicorn.run (one process, lifespan
    off, proxy headers off, log level info with the access log), pinned with taskset, which
    execs it: the pid is the server's own. MALLOC_ARENA_MAX=2, the cap `vahva serve` sets
    with mallopt, unless --default-malloc."""
    command = [
        str(VENV_BIN / "uvicorn"),
        "peer.asgi:application",
        "--host", LOOPBACK,
        "--port", str(port),
        "--lifespan", "off",
        "--no-proxy-headers",
        "--log-level", "info",
        "--timeout-graceful-shutdown", "5",
    ]  # fmt: skip
    taskset = shutil.which("taskset")
    if cpu is not None and taskset:
        command = [taskset, "-c", str(cpu), *command]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT)


def http_phases(
    env: dict[str, str], people: list[Person], *, clients: int, seconds: float, cpus: list[Any]
) -> list[Figures]:
    server_cpu, client_cpu = cpus
    log = Path(env["DATA_DIR"]) / "serve.log"
    port = free_port()
    base_url = f"http://{LOOPBACK}:{port}"
    server = start_server(env, port, server_cpu, log)
    rows = []
    try:
        wait_until_up(server, f"{base_url}{LOGIN}")
        pin(client_cpu)
        pool = PeoplePool(people)
        for count in dict.fromkeys((1, clients)):
            label = f"http, {count} client{'s' if count > 1 else ''}"
            rows.append(
                over_http(
                    base_url,
                    pool,
                    clients=count,
                    seconds=seconds,
                    server_pid=server.pid,
                    label=label,
                )
            )
        if pool.waited:
            rows[-1].note += f"; waited {pool.waited:.1f} s for unused TOTP steps"
    except BaseException:
        print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        stop_server(server)
        pin(server_cpu)
    print(
        f"http: uvicorn (allauth project) pid {server.pid} on CPU {server_cpu}, load generator "
        f"on CPU {client_cpu}, {len(people)} people, MALLOC_ARENA_MAX="
        f"{env.get('MALLOC_ARENA_MAX', 'unset')}"
    )
    return rows


# -- SQL statements per sign-in (a separate, untimed pass) --------------------------------------


def sql_pass(count: int, pool: PeoplePool) -> None:
    sys.path.insert(0, str(HERE))
    from count_queries import CountingBrowser, report_counts
    from django.test import Client

    browser = CountingBrowser(Client(enforce_csrf_checks=True))
    for _ in range(count):
        person = pool.take(time.perf_counter() + 60)
        if person is None:
            raise BenchError("no person with an unused TOTP step")
        browser.client.cookies.clear()
        used = [current_step()]
        browser.new_sign_in()
        try:
            sign_in(browser, person, code_for(person, used))
        finally:
            pool.give_back(person, used[0])
    report_counts("django-allauth", browser)


# -- the command --------------------------------------------------------------------------------


def report(rows: list[Figures], argon2: list[Figures]) -> None:
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
    errors = sum(row.errors for row in rows)
    print(f"  errors (not counted as sign-ins): {errors}")
    slow, fast = sorted(row.rate for row in argon2)
    if fast and (fast - slow) / fast > 0.10:
        print(
            f"\nwarning: the argon2id rate moved {100 * (fast - slow) / fast:.0f} % between its "
            "two runs: the machine is busy; trust the cpu ratio more, or run again"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--people", type=int, default=2000, help="at least (default 2000)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process phase")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument(
        "--sql", type=int, default=0, metavar="N",
        help="only count SQL statements over N in-process sign-ins (no timing)",
    )  # fmt: skip
    parser.add_argument(
        "--default-malloc", action="store_true",
        help="leave glibc's malloc arenas uncapped in the server (vahva serve caps them at 2)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    server_cpu, client_cpu = begin_run()
    import importlib.metadata as md

    import django

    print(
        f"django {django.get_version()}, django-allauth {md.version('django-allauth')}, "
        f"uvicorn {md.version('uvicorn')}, h11 {md.version('h11')}, "
        f"argon2-cffi {md.version('argon2-cffi')}"
    )
    profile = cProfile.Profile() if args.profile else None
    with throwaway_project() as env:
        if not args.default_malloc:
            env["MALLOC_ARENA_MAX"] = "2"
        from django.db import connections

        pin(server_cpu)
        if args.sql:
            people = make_people(max(args.sql, 20), prefix="sql")
            sql_pass(args.sql, PeoplePool(people))
            pin(None)
            return 0
        print(f"hasher: {argon2_parameters()}; {args.seconds:g} s per phase, CPU {server_cpu}")
        argon2 = [raw_argon2(args.seconds, "argon2id verify, 1 core")]
        rows = [argon2[0]]

        per_step = STEP * 1000 / (argon2[0].cpu_ms or 1.0)
        needed = math.ceil(per_step * 1.3) + 2 * args.clients * WARM_UP
        people = make_people(max(args.people, needed), prefix="bench")
        pool = PeoplePool(people)
        if profile:
            profile.enable()
        rows.append(in_process(args.seconds, pool))
        if profile:
            profile.disable()
            rows[-1].note += "; under cProfile, so slower than without"
        if not args.no_http:
            connections.close_all()  # the server gets the SQLite file to itself
            # A pool of its own for the server: the in-process phase's LocMem cache of used
            # codes is not the server's, but the same person must not reuse a step there.
            rows += http_phases(
                env, people, clients=args.clients, seconds=args.seconds,
                cpus=[server_cpu, client_cpu],
            )  # fmt: skip
        argon2.append(raw_argon2(args.seconds, "argon2id verify, again"))
        rows.append(argon2[-1])
    pin(None)
    report(rows, argon2)
    if profile:
        profile_summary(profile, "the in-process phase (django-allauth)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
