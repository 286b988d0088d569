"""A real Redis on loopback for the tests that need one (``pytest_plugins`` in those files).

``redis-server`` runs in the foreground as our child, in a temporary directory, bound to
127.0.0.1 only, with persistence off; it is stopped by its pid. ``make test`` installs it
(``make system-deps``), so a missing binary fails the test rather than skipping it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

#: Tries to get a PONG, each waiting at most 0.1 s for the server's output to move on.
READY_TRIES = 200


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A port free on 127.0.0.1 now, for a peer to bind a moment later.

    Under pytest-xdist, only a port of this worker's share (half the port number, modulo
    the number of workers, is the worker's number; Linux hands bind() odd ports), so two
    workers asking at the same moment cannot be handed the same port.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ...
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    for _try in range(100 * count):
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if count <= 1 or (port // 2) % count == index:
            break
    return port


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process that can be stopped and started again on its port."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(
                "redis-server is not installed; `make test` installs it (as root), or run "
                "`apt-get install -y redis-server`"
            )
        self.binary = binary
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = bytearray()
        self._output = threading.Condition()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None, "already running"
        # Always --bind 127.0.0.1: without it Redis listens on every interface.
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--logfile",
                "",
            ],
            cwd=self.directory,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        # Drain its output (so the pipe never fills) and keep it for failure messages.
        threading.Thread(target=self._drain, args=(self.process,), daemon=True).start()
        for _try in range(READY_TRIES):
            if _pong(self.port):
                return
            if self.process.poll() is not None:
                break
            with self._output:
                self._output.wait(timeout=0.1)  # woken early by anything it prints
        code = self.process.poll()
        self.stop()
        pytest.fail(f"redis-server on port {self.port} did not answer (exit {code}):\n{self.text}")

    def _drain(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._output:
                self.log.extend(line)
                self._output.notify_all()

    @property
    def text(self) -> str:
        return self.log.decode(errors="replace")

    def stop(self) -> None:
        """Stop our server by its pid (SIGTERM; nothing is saved)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis for the whole session; tests keep apart by their channel prefixes."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Callable[[], RedisServer]]:
    """Start a Redis of the test's own (one the test may stop and start again)."""
    started: list[RedisServer] = []

    def start() -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(started)}")
        server.directory.mkdir()
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
