"""vahva's TOTP validation API against privacyIDEA's /validate/check, same machine, same run.

Budget (DESIGN.md §9): at least 5x privacyIDEA's checks per second.

Both servers get the same people, each with the same TOTP secret, the same SQLite settings
(WAL, synchronous=NORMAL), one worker process pinned to the same CPU, and the same load: httpx
clients on the other CPU, first one, then ``--clients`` at once, for ``--seconds`` each. A
check is one request with the person's current code, answered "accepted"; a person is used
once per 30 s step (both servers refuse a code twice).

- vahva: ``vahva serve`` (uvicorn, one worker), ``POST /api/validate/v1/check`` with
  ``{"user", "code"}`` and an API key from ``vahva.validate.clients.add``;
- privacyIDEA: installed from PyPI with ``uv`` into its own virtualenv in a temporary
  directory (``--privacyidea-venv DIR`` reuses one; its code never enters this repository),
  its documented set-up (``pi-manage setup create_enckey / create_audit_keys /
  create_tables``), a flat-file user resolver and realm "bench", one TOTP token per person
  (``init_token``), served by gunicorn (one worker, ``--clients`` threads);
  ``POST /validate/check`` with ``user``, ``realm`` and ``pass``.

    .venv/bin/python bench/totp_api.py [--seconds N] [--people N] [--clients N]
        [--privacyidea-venv DIR] [--no-privacyidea] [--quick] [--in-process N] [--profile]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyotp
from _common import (
    LOOPBACK,
    BenchError,
    Figures,
    PeoplePool,
    Person,
    begin_run,
    child_pids,
    current_step,
    free_port,
    make_people,
    measure,
    percentile,
    pin,
    profile_summary,
    serving,
    shared_database,
    stop_server,
    throwaway_vahva,
    wait_until_up,
)

GOAL = 5.0
#: Issue 20's targets: checks/s and CPU per check against privacyIDEA's, 4 clients.
TARGET, TARGET_CPU = 12.0, 15.0
CHECK = "/api/validate/v1/check"
REALM = "bench"

#: privacyIDEA's configuration file (Python, read by Flask's from_pyfile).
PI_CONFIG = """\
SQLALCHEMY_DATABASE_URI = "sqlite:///{data}/privacyidea.sqlite"
SECRET_KEY = "{secret}"
PI_PEPPER = "{pepper}"
PI_ENCFILE = "{data}/enckey"
PI_AUDIT_KEY_PRIVATE = "{data}/private.pem"
PI_AUDIT_KEY_PUBLIC = "{data}/public.pem"
PI_LOGFILE = "{data}/privacyidea.log"
PI_LOGLEVEL = 30

# The same SQLite settings as vahva's: WAL (readers and one writer at once), synchronous=NORMAL.
from sqlalchemy import event as _event
from sqlalchemy.engine import Engine as _Engine


@_event.listens_for(_Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
"""

#: Run by privacyIDEA's own interpreter: the resolver, the realm, one TOTP token per person.
PI_SETUP = """\
import json, sys, time
from privacyidea.app import create_app
from privacyidea.lib.realm import set_default_realm, set_realm
from privacyidea.lib.resolver import save_resolver
from privacyidea.lib.token import init_token
from privacyidea.lib.user import User

people = json.load(open(sys.argv[1]))
app = create_app(config_name="production", config_file=sys.argv[2], silent=True)
with app.app_context():
    save_resolver({"resolver": "bench", "type": "passwdresolver", "fileName": sys.argv[3]})
    set_realm("bench", resolvers=[{"name": "bench"}])
    set_default_realm("bench")
    began = time.perf_counter()
    for name, hexkey in people:
        init_token(
            {"type": "totp", "otpkey": hexkey, "genkey": 0, "otplen": 6, "hashlib": "sha1",
             "timeStep": 30},
            user=User(name, "bench"),
        )
    print(f"{len(people)} tokens in {time.perf_counter() - began:.1f} s")
"""

PI_WSGI = """\
from privacyidea.app import create_app

application = create_app(config_name="production", config_file={config!r}, silent=True)
"""


class Unavailable(Exception):
    """privacyIDEA could not be installed, set up or started here; the message says why."""


def _run(command: list[str], *, env: dict[str, str] | None = None, timeout: float) -> str:
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"{' '.join(command[:3])}: {exc}") from None
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise Unavailable(f"{' '.join(command[:4])} exited {done.returncode}:\n" + "\n".join(tail))
    return done.stdout


def install_privacyidea(venv: Path) -> Path:
    """privacyIDEA and gunicorn from PyPI in ``venv`` (kept if it has them); its python."""
    python = venv / "bin" / "python"
    if (venv / "bin" / "pi-manage").exists() and (venv / "bin" / "gunicorn").exists():
        print(f"privacyIDEA: reusing {venv}")
        return python
    uv = [shutil.which("uv")] if shutil.which("uv") else [sys.executable, "-m", "uv"]
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    began = time.perf_counter()
    _run([*uv, "venv", "--python", sys.executable, str(venv)], env=env, timeout=120)
    _run(
        [*uv, "pip", "install", "--python", str(python), "privacyidea", "gunicorn"],
        env=env,
        timeout=900,
    )
    print(f"privacyIDEA: installed into {venv} in {time.perf_counter() - began:.0f} s")
    return python


def _hex_secret(person: Person) -> str:
    return base64.b32decode(person.secret + "=" * (-len(person.secret) % 8)).hex()


def _pi_name(person: Person) -> str:
    return person.email.split("@", 1)[0]


@contextlib.contextmanager
def privacyidea_server(
    venv: Path, people: list[Person], *, cpu: int | None, threads: int
) -> Iterator[tuple[str, int]]:
    """Set up privacyIDEA for ``people`` and serve it with gunicorn; yield (URL, pid)."""
    import secrets

    python = install_privacyidea(venv)
    data = Path(tempfile.mkdtemp(prefix="privacyidea-bench-"))
    try:
        config = data / "pi.cfg"
        config.write_text(
            PI_CONFIG.format(data=data, secret=secrets.token_hex(24), pepper=secrets.token_hex(24))
        )
        env = {**os.environ, "PRIVACYIDEA_CONFIGFILE": str(config)}
        manage = str(venv / "bin" / "pi-manage")
        for step in ("create_enckey", "create_audit_keys", "create_tables"):
            _run([manage, "setup", step], env=env, timeout=300)
        passwd = data / "passwd"
        passwd.write_text(
            "".join(
                f"{_pi_name(p)}:x:{10000 + i}:10000:Bench {i}:/nonexistent:/bin/false\n"
                for i, p in enumerate(people)
            )
        )
        tokens = data / "people.json"
        tokens.write_text(json.dumps([[_pi_name(p), _hex_secret(p)] for p in people]))
        script = data / "setup.py"
        script.write_text(PI_SETUP)
        began = time.perf_counter()
        out = _run(
            [str(python), str(script), str(tokens), str(config), str(passwd)],
            env=env,
            timeout=3600,
        )
        print(f"privacyIDEA: {out.strip()} (set-up {time.perf_counter() - began:.0f} s)")
        (data / "bench_wsgi.py").write_text(PI_WSGI.format(config=str(config)))
        port = free_port()
        command = [
            str(venv / "bin" / "gunicorn"),
            "--bind",
            f"{LOOPBACK}:{port}",
            "--workers",
            "1",
            "--threads",
            str(threads),
            "--chdir",
            str(data),
            "bench_wsgi:application",
        ]
        taskset = shutil.which("taskset")
        if cpu is not None and taskset:
            command = [taskset, "-c", str(cpu), *command]
        log = data / "gunicorn.log"
        with log.open("wb") as out_file:
            server = subprocess.Popen(command, env=env, stdout=out_file, stderr=subprocess.STDOUT)
        try:
            try:
                wait_until_up(server, f"http://{LOOPBACK}:{port}/healthz/", timeout=120)
            except BenchError as exc:
                tail = log.read_text(errors="replace")[-2000:]
                raise Unavailable(f"gunicorn: {exc}\n{tail}") from None
            # gunicorn's master forks the worker that serves: its CPU time is the one to read.
            workers = child_pids(server.pid)
            yield f"http://{LOOPBACK}:{port}", workers[0] if len(workers) == 1 else server.pid
        finally:
            stop_server(server)
    finally:
        shutil.rmtree(data, ignore_errors=True)


# -- the checks -------------------------------------------------------------------------------


def code_now(person: Person) -> tuple[str, int]:
    step = current_step()
    return pyotp.TOTP(person.secret).at(step * 30), step


def client_ops(
    base_url: str,
    pool: PeoplePool,
    *,
    clients: int,
    deadline: float,
    check: Callable[[Any, Person, str], None],
) -> tuple[list[Callable[[], None]], list[Any]]:
    """One op per client: a person with an unused step, their code, one check."""
    import httpx

    browsers = [httpx.Client(base_url=base_url, timeout=30) for _ in range(clients)]

    def op_for(http: Any) -> Callable[[], None]:
        def op() -> None:
            person = pool.take(deadline)
            if person is None:
                raise BenchError("no person with an unused TOTP step: raise --people")
            code, step = code_now(person)
            try:
                check(http, person, code)
            finally:
                pool.give_back(person, step)

        return op

    return [op_for(http) for http in browsers], browsers


def vahva_check(key: str) -> Callable[[Any, Person, str], None]:
    headers = {"Authorization": f"Bearer {key}"}

    def check(http: Any, person: Person, code: str) -> None:
        answer = http.post(CHECK, json={"user": person.email, "code": code}, headers=headers)
        if answer.status_code != 200 or answer.json().get("accepted") is not True:
            raise BenchError(f"vahva: {answer.status_code} {answer.text[:200]}")

    return check


def privacyidea_check(http: Any, person: Person, code: str) -> None:
    answer = http.post(
        "/validate/check", data={"user": _pi_name(person), "realm": REALM, "pass": code}
    )
    result = answer.json().get("result", {}) if answer.status_code == 200 else {}
    if result.get("value") is not True:
        raise BenchError(f"privacyIDEA: {answer.status_code} {answer.text[:200]}")


def phases(
    name: str,
    base_url: str,
    pid: int,
    pool: PeoplePool,
    check: Callable[[Any, Person, str], None],
    *,
    clients: int,
    seconds: float,
) -> list[Figures]:
    rows = []
    for count in dict.fromkeys((1, clients)):
        deadline = time.perf_counter() + seconds + 60
        ops, browsers = client_ops(base_url, pool, clients=count, deadline=deadline, check=check)
        try:
            label = f"{name}, {count} client{'s' if count > 1 else ''}"
            rows.append(measure(label, ops, seconds=seconds, server_pid=pid))
        finally:
            for http in browsers:
                http.close()
    if pool.waited:
        rows[-1].note += f"; waited {pool.waited:.1f} s for people with an unused TOTP step"
    return rows


# -- in process: where a check's CPU goes ----------------------------------------------------


def in_process_profile(people: list[Person], key: str, *, checks: int, profile: bool) -> None:
    """``checks`` checks through django's test client and the lean middleware chain that
    ``vahva serve`` answers the API with (no HTTP server): their statements, CPU per check
    and, with ``profile``, cProfile's view. People are taken from the end of the list, each
    once, so none of them has used this step."""
    import cProfile

    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    client = Client()
    lean = getattr(settings, "LEAN_MIDDLEWARE", None)
    if lean is not None:
        with override_settings(MIDDLEWARE=lean):
            client.handler.load_middleware()
    headers = {"Authorization": f"Bearer {key}"}
    chosen = people[-(checks + 1) :]

    def check(person: Person) -> None:
        code, _step = code_now(person)
        answer = client.post(
            CHECK,
            data=json.dumps({"user": person.email, "code": code}),
            content_type="application/json",
            headers=headers,
        )
        if answer.status_code != 200:
            from vahva.audit.models import AuditEvent

            last = AuditEvent.objects.order_by("-id").values_list("action", "reason").first()
            raise BenchError(
                f"vahva in process: {answer.status_code} {answer.content[:200]!r}; {last}"
            )

    check(chosen[0])  # warm: imports, the key's last use
    with CaptureQueriesContext(connection) as captured:
        check(chosen[1])
    statements = [q["sql"] for q in captured.captured_queries]
    print(f"\nin process (lean chain, no HTTP): {len(statements)} statements per check:")
    print("\n".join(f"  {sql[:110]}" for sql in statements))
    profiler = cProfile.Profile() if profile else None
    began = time.process_time()
    if profiler:
        profiler.enable()
    for person in chosen[2:]:
        check(person)
    if profiler:
        profiler.disable()
    spent = time.process_time() - began
    done = len(chosen) - 2
    print(f"in process: {done} checks, {1000 * spent / done:.2f} ms of CPU per check")
    if profiler:
        profile_summary(profiler, f"{done} checks in process", top=30)


# -- the report -------------------------------------------------------------------------------


def report(rows: list[Figures], pairs: list[tuple[Figures, Figures]]) -> None:
    header = (
        f"{'phase':<28} {'checks':>7} {'checks/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'cpu ms/op':>10} {'x pI':>6} {'cpu x pI':>8}"
    )
    print("\n" + header)
    print("-" * len(header))
    ratios = {id(ours): theirs for ours, theirs in pairs}
    for row in rows:
        theirs = ratios.get(id(row))
        times = f"{row.rate / theirs.rate:6.1f}" if theirs and theirs.rate else f"{'-':>6}"
        cpu_times = (
            f"{theirs.cpu_ms / row.cpu_ms:8.1f}"
            if theirs and theirs.cpu_ms and row.cpu_ms
            else f"{'-':>8}"
        )
        cpu = f"{row.cpu_ms:10.2f}" if row.cpu_ms is not None else f"{'-':>10}"
        print(
            f"{row.phase:<28} {row.count:>7} {row.rate:9.1f}"
            f" {1000 * percentile(row.latencies, 50):8.1f}"
            f" {1000 * percentile(row.latencies, 99):8.1f} {cpu} {times} {cpu_times}"
        )
    for row in rows:
        if row.note:
            print(f"  {row.phase}: {row.note}")
    if not pairs:
        return
    ours, theirs = pairs[-1]
    ratio = ours.rate / theirs.rate if theirs.rate else math.inf
    by_cpu = theirs.cpu_ms / ours.cpu_ms if ours.cpu_ms and theirs.cpu_ms else math.nan
    print(
        f"\ngoal >= {GOAL:.0f}x privacyIDEA: {'met' if ratio >= GOAL else 'not met'} "
        f"({ours.phase}: {ours.rate:.0f}/s against {theirs.rate:.0f}/s = {ratio:.1f}x; "
        f"by server CPU per check {by_cpu:.1f}x)"
    )
    met = ratio >= TARGET and by_cpu >= TARGET_CPU
    # A phase that waited for people measured the pool, not the server: its rate is a floor.
    capped = "; vahva's rate capped by --people (it waited): read the CPU ratio" * (
        "waited" in ours.note
    )
    print(
        f"target >= {TARGET:.0f}x (>= {TARGET_CPU:.0f}x by CPU) (issue 20): "
        f"{'met' if met else 'not met'} ({ratio:.1f}x, {by_cpu:.1f}x by CPU{capped})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per phase (default 8)")
    parser.add_argument(
        "--people",
        type=int,
        default=3000,
        help="people with TOTP, the same on both servers (default 3000); each is checked once "
        "per 30 s step, so this caps the rate a phase can reach",
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument(
        "--privacyidea-venv",
        type=Path,
        help="privacyIDEA's virtualenv: reused when it has privacyIDEA, else made there "
        "(default: a temporary one, removed afterwards)",
    )
    parser.add_argument("--no-privacyidea", action="store_true", help="measure vahva only")
    parser.add_argument("--quick", action="store_true", help="400 people, 1 s per phase")
    parser.add_argument(
        "--in-process",
        type=int,
        default=0,
        metavar="N",
        help="first, N checks in this process (lean chain, no HTTP): statements, CPU per check",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the --in-process checks (default 300)"
    )
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="vahva's database: a fresh SQLite file in WAL mode (default), or a throwaway "
        "PostgreSQL (tests/postgres_server.py, loopback, durability off)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.people, args.seconds = 400, 1.0
    if args.seconds <= 0 or args.people < 1 or args.clients < 1:
        parser.error("--seconds, --people and --clients must be positive")

    server_cpu, client_cpu = begin_run()
    rows: list[Figures] = []
    pairs: list[tuple[Figures, Figures]] = []
    with (
        shared_database(args.database) as (database_url, database),
        throwaway_vahva(database_url=database_url) as env,
    ):
        print(f"database: {database}")
        from django.db import connections

        from vahva import clock
        from vahva.validate import clients

        began = time.perf_counter()
        people = make_people(
            args.people, prefix="totp", registered_at=clock.now() - dt.timedelta(hours=1)
        )
        key = clients.add("bench").key
        print(f"{len(people)} people with TOTP in {time.perf_counter() - began:.1f} s (vahva)")
        checks = min(args.in_process or (300 if args.profile else 0), len(people) // 2)
        pooled = people
        if checks:
            in_process_profile(people, key, checks=checks, profile=args.profile)
            # Their step is used: the HTTP phases take the others.
            pooled = people[: -(checks + 1)]
        connections.close_all()  # the server gets the SQLite file to itself

        with serving(env, server_cpu, then_pin=client_cpu) as server:
            ours = phases(
                "vahva",
                server.base_url,
                server.pid,
                PeoplePool(pooled),
                vahva_check(key),
                clients=args.clients,
                seconds=args.seconds,
            )
        pin(None)
        rows += ours

    if not args.no_privacyidea:
        temporary = None if args.privacyidea_venv else Path(tempfile.mkdtemp(prefix="pi-venv-"))
        venv = args.privacyidea_venv or (temporary / "venv")  # type: ignore[operator]
        try:
            with privacyidea_server(venv, people, cpu=server_cpu, threads=args.clients) as (
                url,
                pid,
            ):
                pin(client_cpu)
                theirs = phases(
                    "privacyIDEA",
                    url,
                    pid,
                    PeoplePool(people),
                    privacyidea_check,
                    clients=args.clients,
                    seconds=args.seconds,
                )
                pin(None)
            rows += theirs
            pairs = list(zip(ours, theirs, strict=True))
        except Unavailable as exc:
            print(f"\nprivacyIDEA could not be measured here:\n{textwrap.indent(str(exc), '  ')}")
        finally:
            if temporary is not None:
                shutil.rmtree(temporary, ignore_errors=True)

    print(
        f"\nservers on CPU {server_cpu} (one worker each), load generator on CPU {client_cpu}; "
        f"{len(people)} people; checks/s per wall-clock second; cpu ms/op = the server "
        "process's CPU time per check; x pI = checks/s over privacyIDEA's with as many clients"
    )
    report(rows, pairs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
