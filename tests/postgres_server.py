"""A real PostgreSQL on loopback for the tests (DESIGN.md §8), as a fixture and as a command.

``postgres`` runs in the foreground as our child, in a throwaway directory, listening on
127.0.0.1 only (its Unix socket in that directory), with durability off (a test cluster is
thrown away). It is stopped by its pid. PostgreSQL refuses to run as root, so under root the
server runs as the ``postgres`` user (Debian's package creates it) or ``nobody``.

As a command, it runs another command against a fresh server and stops the server after::

    python -m tests.postgres_server pytest tests/signin -q

The command gets ``DATABASE_URL=postgres://…`` (the settings read it, and pytest-django creates
its ``test_…`` database there: under pytest-xdist one per worker, ``test_vahva_gw0``, …, on
this one server). ``make test-postgres`` runs the suite that way. The ``postgres_server``
fixture is per session, so each xdist worker that needs one starts its own (own port, own
directory).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

#: Seconds to wait for the server to accept connections, or to stop.
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
DATABASE = "vahva"


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("postgres")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    from tests.redis_server import free_port

    return free_port()


def _run_as() -> str | None:
    """The user the server runs as: ourselves, or (as root) an unprivileged one."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("PostgreSQL cannot run as root, and there is no postgres or nobody user")


class PostgresServer:
    """One PostgreSQL cluster of our own; ``stop()`` and ``start()`` again keep its data."""

    def __init__(self, port: int | None = None) -> None:
        bin_dir = binaries()
        if bin_dir is None:
            raise FileNotFoundError(
                "PostgreSQL is not installed; `make test-postgres` installs it (as root), or "
                "run `apt-get install -y postgresql`"
            )
        self.bin_dir = bin_dir
        self.port = port or _free_port()
        self.user = _run_as()
        # Not under pytest's tmp_path: that is root's own (0700), which the server's user
        # cannot enter. mkdtemp's directory is private to whoever owns it: the server's user.
        self.directory = Path(tempfile.mkdtemp(prefix="vahva-pg-"))
        self.data = self.directory / "data"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = bytearray()
        self._output = threading.Condition()
        self._initdb()

    def url(self, database: str = DATABASE) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _as_user(self) -> dict[str, object]:
        if self.user is None:
            return {}
        entry = pwd.getpwnam(self.user)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _initdb(self) -> None:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        result = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                # Only loopback connections reach this server, and only the test's own.
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=self.directory,
            **self._as_user(),  # type: ignore[call-overload]
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> None:
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                # Loopback only; the Unix socket in our own directory, not /var/run.
                "-c",
                "listen_addresses=127.0.0.1",
                "-k",
                str(self.directory),
                # A throwaway cluster: no durability, so that tests do not wait for disks.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            cwd=self.directory,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            **self._as_user(),  # type: ignore[call-overload]
        )
        threading.Thread(target=self._drain, args=(self.process,), daemon=True).start()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._accepts():
                return
            if self.process.poll() is not None:
                break
            with self._output:
                self._output.wait(timeout=0.1)  # woken early by anything it prints
        code = self.process.poll()
        self.stop()
        raise RuntimeError(
            f"postgres on port {self.port} did not start (exit {code}):\n{self.text}"
        )

    def _accepts(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    def _drain(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._output:
                self.log.extend(line)
                self._output.notify_all()

    @property
    def text(self) -> str:
        return self.log.decode(errors="replace")

    def create_database(self, name: str = DATABASE) -> str:
        """Create ``name`` (if it does not exist) and return its URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def stop(self) -> None:
        """Stop our server by its pid: SIGINT is PostgreSQL's "fast" shutdown (it does not
        wait for clients to leave); SIGQUIT, then SIGKILL, if it does not stop in time."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):
            process.send_signal(sig)
            try:
                process.wait(timeout=STOP_TIMEOUT)
                return
            except subprocess.TimeoutExpired:
                continue

    def remove(self) -> None:
        """Stop, and delete the cluster's files."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _server_or_fail() -> PostgresServer:
    try:
        return PostgresServer()
    except FileNotFoundError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL for the whole session; tests keep apart by their own databases."""
    server = _server_or_fail()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Callable[[str], str]:
    """Create a database of the test's own on the session's server; returns its URL."""

    def create(name: str) -> str:
        return postgres_server.create_database(name)

    return create


def main(argv: list[str]) -> int:
    """Run ``argv`` with DATABASE_URL pointing at a fresh PostgreSQL; its exit code is ours."""
    if not argv:
        print("usage: python -m tests.postgres_server COMMAND [ARG...]", file=sys.stderr)
        return 2
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: object) -> None:
        # Stopped ourselves (Ctrl-C, make killed): stop the command, then the server below.
        if child is None:
            raise KeyboardInterrupt  # still starting: the finally below removes the server
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    server = PostgresServer()
    try:
        server.start()
        url = server.create_database()
        print(f"PostgreSQL {server.bin_dir.parent.name} on 127.0.0.1:{server.port}", flush=True)
        child = subprocess.Popen(argv, env={**os.environ, "DATABASE_URL": url})
        return child.wait()
    finally:
        server.remove()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
