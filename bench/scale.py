"""Sign-in latency with 1,000,000 people (2,000,000 methods) in PostgreSQL against 1,000.

Budget (DESIGN.md §9): a sign-in with a million people costs within 10 % of one with a
thousand; the plans of the sign-in's queries are index lookups.

1. A throwaway PostgreSQL on 127.0.0.1 (initdb in a temporary directory, ``postgres`` in the
   foreground as our child, stopped by its pid; durability off, as for the tests), and a
   vahva migrated onto it (``_common.throwaway_vahva``, production settings).
2. ``--measured`` people (default 1,000) with a TOTP method and a second method each.
   Phase "1k people": password + TOTP sign-ins through the real views (django.test.Client,
   CSRF enforced, a FakeClock moved 30 s per round), for ``--seconds``.
3. The rest of the people and methods bulk-loaded with COPY (``--people`` in all, default
   1,000,000; two methods each), then VACUUM (ANALYZE) and a CHECKPOINT (autovacuum is off,
   so that none runs during a phase).
4. Phase "1M people": the same sign-ins by the same people.
5. The SQL of one sign-in, captured, and each statement's plan (EXPLAIN; ANALYZE for the
   reads), with any sequential scan of a large table called out.

Figures per phase: sign-ins/s, p50/p99 of a whole sign-in (its four requests), CPU ms per
sign-in, and the time spent in SQL per sign-in (every statement timed with Django's
execute_wrapper): argon2id is most of a sign-in, and the SQL is what grows with the tables.

    .venv/bin/python bench/scale.py [--people N] [--measured N] [--seconds N] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
from _common import (
    LOOPBACK,
    STEP,
    BenchError,
    Figures,
    Person,
    begin_run,
    free_port,
    make_people,
    percentile,
    pin,
    throwaway_vahva,
)

from signin import sign_in  # bench/signin.py: one browser's sign-in

GOAL = 0.10
WARM_UP = 3
#: A table with more rows than this must not be read with a sequential scan.
LARGE = 10_000
#: Rows per COPY statement: keeps one transaction's memory bounded.
BATCH = 100_000


# -- a throwaway PostgreSQL -------------------------------------------------------------------


def _binaries() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("postgres")
    if on_path:
        return Path(on_path).parent
    raise BenchError("PostgreSQL is not installed: apt-get install -y postgresql")


def _run_as() -> dict[str, Any]:
    """initdb and postgres refuse to run as root: as root, run them as postgres (or nobody)."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise BenchError("PostgreSQL cannot run as root, and there is no postgres or nobody user")


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL cluster of our own on loopback; yield the URL of its database "vahva"."""
    import psycopg

    bin_dir = _binaries()
    who = _run_as()
    directory = Path(tempfile.mkdtemp(prefix="vahva-scale-pg-"))
    if who:
        os.chown(directory, who["user"], who["group"])
    data = directory / "data"
    done = subprocess.run(
        [
            str(bin_dir / "initdb"),
            *("-D", str(data), "-U", "postgres", "-A", "trust"),
            *("-E", "UTF8", "--locale=C.UTF-8", "--no-sync"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=directory,
        **who,
    )
    if done.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        raise BenchError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
    port = free_port()
    log = directory / "postgres.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                str(bin_dir / "postgres"),
                *("-D", str(data), "-p", str(port), "-k", str(directory)),
                # Loopback only; a throwaway cluster: no durability, memory for the tables.
                *("-c", f"listen_addresses={LOOPBACK}", "-c", "fsync=off"),
                *("-c", "synchronous_commit=off", "-c", "full_page_writes=off"),
                *("-c", "shared_buffers=1GB", "-c", "maintenance_work_mem=512MB"),
                *("-c", "max_wal_size=4GB", "-c", "checkpoint_timeout=30min"),
                # No autovacuum working through two million new rows during a phase: the load
                # ends with VACUUM ANALYZE and a CHECKPOINT instead, the steady state of a
                # database that has had its people for a while.
                *("-c", "autovacuum=off"),
            ],
            cwd=directory,
            stdout=out,
            stderr=subprocess.STDOUT,
            **who,
        )
    base = f"postgres://postgres@{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(f"{base}/postgres", connect_timeout=1, autocommit=True) as db:
                    db.execute("CREATE DATABASE vahva")
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(
                        f"postgres did not start:\n{log.read_text(errors='replace')[-2000:]}"
                    ) from None
                time.sleep(0.1)
        version = subprocess.run(
            [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        print(f"database: {version} on {LOOPBACK}:{port} (pid {server.pid}), fsync off")
        yield f"{base}/vahva"
    finally:
        # Stopped by its pid: SIGINT is PostgreSQL's "fast" shutdown.
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


# -- loading ----------------------------------------------------------------------------------


def _template_row(model: Any, instance: Any, connection: Any) -> tuple[list[str], list[Any]]:
    """The columns (all but the id) and the values ``instance`` would be saved with."""
    columns, values = [], []
    for column_field in model._meta.concrete_fields:
        if column_field.primary_key:
            continue
        value = column_field.get_db_prep_save(getattr(instance, column_field.attname), connection)
        if isinstance(getattr(instance, column_field.attname), dict | list):
            value = json.dumps(getattr(instance, column_field.attname))
        columns.append(column_field.column)
        values.append(value)
    return columns, values


def _copy(connection: Any, table: str, columns: list[str], rows: Iterator[list[Any]]) -> int:
    """COPY ``rows`` into ``table`` in batches; the number of rows."""
    raw = connection.connection
    names = ", ".join(f'"{c}"' for c in columns)
    count = 0
    batch: list[list[Any]] = []

    def flush() -> None:
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            for row in batch:
                copy.write_row(row)
        raw.commit()
        batch.clear()

    for row in rows:
        batch.append(row)
        count += 1
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return count


def load_filler(people: int, *, now: dt.datetime) -> tuple[int, int]:
    """``people`` more people (same password hash) with two methods each, with COPY."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.db.models import Max, Min

    from vahva.accounts.models import User
    from vahva.methods.models import RegisteredMethod
    from vahva.methods.totp import generate_secret

    connection.ensure_connection()
    user_columns, user_values = _template_row(
        User,
        User(email="x@bench.example", full_name="Filler", password=make_password("filler")),
        connection,
    )
    email_at = user_columns.index("email")
    public_at = user_columns.index("public_id")
    name_at = user_columns.index("full_name")

    def users() -> Iterator[list[Any]]:
        for i in range(people):
            row = list(user_values)
            row[email_at] = f"filler{i:07d}@bench.example"
            row[public_at] = uuid.uuid4()
            row[name_at] = f"Filler {i}"
            yield row

    began = time.perf_counter()
    loaded = _copy(connection, User._meta.db_table, user_columns, users())
    span = User.objects.filter(email__startswith="filler").aggregate(Min("id"), Max("id"))
    first, last = int(span["id__min"]), int(span["id__max"])
    print(f"  {loaded:,} people in {time.perf_counter() - began:.0f} s")

    # One encrypted secret for every filler method: they are never read, only stored, and
    # encrypting two million secrets would take longer than the benchmark.
    totp_columns, totp_values = _template_row(
        RegisteredMethod,
        RegisteredMethod(
            user_id=first, kind="totp", is_default=True, created_at=now, secret=generate_secret()
        ),
        connection,
    )
    sms_columns, sms_values = _template_row(
        RegisteredMethod,
        RegisteredMethod(
            user_id=first, kind="sms", created_at=now, data={"number": "+358401234567"}
        ),
        connection,
    )
    assert totp_columns == sms_columns
    user_at = totp_columns.index("user_id")

    def methods() -> Iterator[list[Any]]:
        for user_id in range(first, last + 1):
            for values in (totp_values, sms_values):
                row = list(values)
                row[user_at] = user_id
                yield row

    began = time.perf_counter()
    methods_loaded = _copy(connection, RegisteredMethod._meta.db_table, totp_columns, methods())
    print(f"  {methods_loaded:,} methods in {time.perf_counter() - began:.0f} s")
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
        cursor.execute("CHECKPOINT")
    print(f"  VACUUM (ANALYZE) and CHECKPOINT in {time.perf_counter() - began:.0f} s")
    return loaded, methods_loaded


def second_methods(people: list[Person], *, now: dt.datetime) -> None:
    """A second method (a phone for texts) for each measured person, as the filler has."""
    from vahva.accounts.models import User
    from vahva.methods.models import RegisteredMethod

    users = User.objects.filter(email__in=[p.email for p in people])
    RegisteredMethod.objects.bulk_create(
        [
            RegisteredMethod(
                user=user, kind="sms", created_at=now, data={"number": "+358401234567"}
            )
            for user in users
        ]
    )


def counts() -> tuple[int, int]:
    from vahva.accounts.models import User
    from vahva.methods.models import RegisteredMethod

    return User.objects.count(), RegisteredMethod.objects.count()


# -- measuring --------------------------------------------------------------------------------


@dataclass
class SqlTimer:
    """Django execute_wrapper: the time and number of statements run."""

    seconds: float = 0.0
    statements: int = 0

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - began
            self.statements += 1


#: SQL milliseconds per sign-in, by phase.
SQL_MS: dict[str, float] = {}


def sign_ins(label: str, people: list[Person], fake: Any, seconds: float) -> Figures:
    """Password + TOTP sign-ins of ``people`` in turn, through the real views."""
    from django.db import connection
    from django.test import Client

    figures = Figures(label)
    browser = Client(enforce_csrf_checks=True)

    def once(person: Person) -> None:
        browser.cookies.clear()  # a fresh browser: no session, no known-browser cookie
        sign_in(browser, person, lambda: pyotp.TOTP(person.secret).at(fake()))

    for person in people[-WARM_UP:]:
        once(person)
    fake.advance(STEP)
    timer = SqlTimer()
    cpu = time.process_time()
    start = time.perf_counter()
    with connection.execute_wrapper(timer):
        while time.perf_counter() - start < seconds:
            for person in people:
                began = time.perf_counter()
                once(person)
                figures.latencies.append(time.perf_counter() - began)
                figures.count += 1
                if time.perf_counter() - start >= seconds:
                    break
            fake.advance(STEP)  # every person used this step's code
    figures.seconds = time.perf_counter() - start
    figures.cpu_seconds = time.process_time() - cpu
    figures.note = (
        f"SQL {1000 * timer.seconds / max(1, figures.count):.2f} ms per sign-in, "
        f"{timer.statements / max(1, figures.count):.0f} statements"
    )
    SQL_MS[label] = 1000 * timer.seconds / max(1, figures.count)
    return figures


_WRITE = re.compile(r"^\s*(UPDATE|DELETE|INSERT)\b", re.IGNORECASE)
_PLAIN = re.compile(r"^\s*(SELECT|UPDATE|DELETE)\b", re.IGNORECASE)


def plans(person: Person, fake: Any) -> list[tuple[str, str]]:
    """The SQL of one sign-in, and the plan of each read and change."""
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    fake.advance(STEP)
    browser = Client(enforce_csrf_checks=True)
    with CaptureQueriesContext(connection) as captured:
        sign_in(browser, person, lambda: pyotp.TOTP(person.secret).at(fake()))
    found = []
    seen: set[str] = set()
    for query in captured.captured_queries:
        sql = query["sql"]
        shape = re.sub(r"'[^']*'|\b\d+\b", "?", sql)
        if not _PLAIN.match(sql) or shape in seen:
            continue
        seen.add(shape)
        explain = "EXPLAIN (COSTS OFF)" if _WRITE.match(sql) else "EXPLAIN (ANALYZE, COSTS OFF)"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"{explain} {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            transaction.set_rollback(True)  # EXPLAIN ANALYZE runs the statement: undo it
        found.append((sql, plan))
    return found


def large_tables() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples::bigint FROM pg_class WHERE relkind = 'r' "
            "AND reltuples > %s",
            [LARGE],
        )
        return {name: rows for name, rows in cursor.fetchall()}


def report(rows: list[Figures], found: list[tuple[str, str]], large: dict[str, int]) -> None:
    print("\nplans of one sign-in's statements (1M people):")
    seq_scans = []
    for sql, plan in found:
        print(f"\n  {sql[:300]}{'…' if len(sql) > 300 else ''}")
        print("\n".join(f"    {line}" for line in plan.splitlines()))
        for table in large:
            if re.search(rf"Seq Scan on {re.escape(table)}\b", plan):
                seq_scans.append(table)
    header = (
        f"{'phase':<22} {'sign-ins':>9} {'per s':>7} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'cpu ms':>8} {'SQL ms':>8}"
    )
    print("\n" + header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.phase:<22} {row.count:>9} {row.rate:7.1f}"
            f" {1000 * percentile(row.latencies, 50):8.1f}"
            f" {1000 * percentile(row.latencies, 99):8.1f} {row.cpu_ms or 0:8.2f}"
            f" {SQL_MS.get(row.phase, 0.0):8.2f}"
        )
    for row in rows:
        print(f"  {row.phase}: {row.note}")
    small, big = rows
    p50 = percentile(big.latencies, 50) / percentile(small.latencies, 50) - 1
    cpu = (big.cpu_ms or 0) / (small.cpu_ms or 1) - 1
    sql_delta = SQL_MS.get(big.phase, 0.0) - SQL_MS.get(small.phase, 0.0)
    print(
        f"\ngoal: within {100 * GOAL:.0f} % of {small.phase}: "
        f"{'met' if p50 <= GOAL else 'not met'} (p50 {100 * p50:+.1f} %, CPU per sign-in "
        f"{100 * cpu:+.1f} %, SQL {sql_delta:+.2f} ms per sign-in)"
    )
    if seq_scans:
        print(f"sequential scans of large tables: {', '.join(sorted(set(seq_scans)))}")
    else:
        large_names = ", ".join(f"{name} ({n:,} rows)" for name, n in sorted(large.items()))
        print(f"no sequential scan of a large table ({large_names}): index lookups")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000, help="in all (default 1M)")
    parser.add_argument(
        "--measured", type=int, default=1000, help="people who sign in (default 1,000)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase (default 10)")
    parser.add_argument("--quick", action="store_true", help="20,000 people, 2 s per phase")
    args = parser.parse_args(argv)
    if args.quick:
        args.people, args.measured, args.seconds = 20_000, 200, 2.0
    if args.measured < WARM_UP or args.people < args.measured or args.seconds <= 0:
        parser.error("--measured must be >= 3 and <= --people, --seconds positive")

    server_cpu, _client_cpu = begin_run()
    pin(server_cpu)
    rows: list[Figures] = []
    with throwaway_postgres() as url, throwaway_vahva(database_url=url):
        from vahva import clock as vahva_clock
        from vahva.clock import FakeClock

        fake = FakeClock(dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC))
        vahva_clock.install(fake)
        try:
            registered = fake() - dt.timedelta(days=1)
            people = make_people(args.measured, prefix="scale", registered_at=registered)
            second_methods(people, now=registered)
            users, methods = counts()
            rows.append(sign_ins(f"{users:,} people", people, fake, args.seconds))

            print(f"loading {args.people - args.measured:,} more people with COPY:")
            load_filler(args.people - args.measured, now=registered)
            users, methods = counts()
            print(f"  now {users:,} people and {methods:,} methods")
            rows.append(sign_ins(f"{users:,} people", people, fake, args.seconds))
            found = plans(people[0], fake)
            large = large_tables()
        finally:
            vahva_clock.install(None)
    pin(None)
    print(f"\nsign-ins in this process on CPU {server_cpu}: password (argon2id) + TOTP code")
    report(rows, found, large)
    return 0


if __name__ == "__main__":
    sys.exit(main())
