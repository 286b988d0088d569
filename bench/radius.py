"""`vahva radius serve`: Access-Requests per second, and memory per request waiting for the app.

Phases, against one `vahva radius serve` process pinned to one core (the load generator on the
other), each a pyrad client per concurrent "VPN" on its own loopback address:

1. the floor: argon2id verifications per second on one core (as bench/signin.py);
2. password only (the client's rule is "never"): one Access-Request → Access-Accept;
3. password + code in one request (`password,123456`, the client opts in to appended codes):
   the password, the door, the TOTP check (reserve-first throttle, single use) → Access-Accept;
   a person is used once per 30 s step, as for the other TOTP benchmarks;
4. waiting pushes: ``--waits`` Access-Requests from a client that waits for the app (each
   person has an app device; nobody answers): the server's RSS before and once every push has
   been sent, per waiting request, and its threads (a wait must hold none).

    .venv/bin/python bench/radius.py [--seconds N] [--clients N] [--waits N] [--quick]

Prints figures and ratios; asserts nothing (see bench/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyotp
from _common import (
    LOOPBACK,
    PASSWORD,
    STEP,
    BenchError,
    Figures,
    PeoplePool,
    Person,
    begin_run,
    current_step,
    make_people,
    measure,
    pin,
    print_table,
    proc_status,
    stop_server,
    throwaway_vahva,
)

from signin import raw_argon2

SECRET = "bench-radius-shared-secret"
PASSWORD_ONLY, CODES, WAITING = "127.0.0.2", "127.0.0.3", "127.0.0.4"
WARM_UP = 2


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


class Nas:
    """One VPN: a UDP socket on its own loopback address, one request at a time."""

    def __init__(self, port: int, source: str, *, timeout: float = 30.0) -> None:
        from vahva.radius.packets import RADIUS_DICTIONARY

        self.dictionary = RADIUS_DICTIONARY
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source, 0))
        self.sock.settimeout(timeout)

    def request(self, email: str, password: str) -> Any:
        from pyrad import packet

        built = packet.AuthPacket(secret=SECRET.encode(), dict=self.dictionary)
        built["User-Name"] = email
        built["User-Password"] = built.PwCrypt(password)
        built.add_message_authenticator()
        return built

    def send(self, built: Any) -> None:
        self.sock.sendto(built.RequestPacket(), (LOOPBACK, self.port))

    def ask(self, built: Any) -> int:
        self.send(built)
        raw = self.sock.recv(4096)
        reply = built.CreateReply(packet=raw)
        if not built.VerifyReply(reply, raw, enforce_ma=True):
            raise BenchError("an answer that does not verify")
        return int(reply.code)


def set_up_clients() -> None:
    from vahva.radius import clients

    clients.add("Password only", addresses=[PASSWORD_ONLY], secret=SECRET, mfa_rule="never")
    clients.add("Codes", addresses=[CODES], secret=SECRET, mfa_rule="always", appended_codes=True)
    # A VPN that cannot show the number: its pushes are approve-only (without the opt-in, a
    # wait-mode client sends no push it could not complete).
    clients.add(
        "Waits",
        addresses=[WAITING],
        secret=SECRET,
        mfa_rule="always",
        prompt="wait",
        approve_only=True,
    )


def people_with_app(count: int, registered_at: dt.datetime) -> list[str]:
    """``count`` people whose one method is the vahva app on one active device each."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from vahva.accounts.models import User
    from vahva.authenticator import protocol
    from vahva.authenticator.models import Device
    from vahva.methods import service

    key = protocol.spki(ec.generate_private_key(ec.SECP256R1()).public_key())
    encoded = make_password(PASSWORD)
    emails = [f"app{i:06d}@bench.example" for i in range(count)]
    with transaction.atomic():
        users = User.objects.bulk_create(
            [User(email=e, full_name=f"App {i}", password=encoded) for i, e in enumerate(emails)]
        )
        for user in users:
            device = Device.objects.create(
                user=user, name="Phone", public_key=key, status="active", created_at=registered_at
            )
            service.save_new(user, "app_push", now=registered_at, data={"device": str(device.pk)})
    return emails


@contextlib.contextmanager
def radius_server(
    env: dict[str, str], cpu: int | None, push_wait: int
) -> Iterator[tuple[Any, int]]:
    data_dir = Path(env["VAHVA_DATA_DIR"])
    with (data_dir / "vahva.toml").open("a") as config:
        # Nobody answers the benchmark's pushes: they wait for as long as phase 4 needs.
        config.write(f"radius_push_wait = {push_wait}\n")
    port = free_udp_port()
    command = [str(Path(sys.executable).with_name("vahva")), "radius", "serve", "--port", str(port)]
    taskset = shutil.which("taskset")
    if cpu is not None and taskset:
        command = [taskset, "-c", str(cpu), *command]
    log = data_dir / "radius.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while b"radius: listening" not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError("vahva radius serve did not start:\n" + log.read_text()[-2000:])
            time.sleep(0.05)
        yield proc, port
    finally:
        stop_server(proc)


def password_only(port: int, email: str) -> Callable[[], None]:
    nas = Nas(port, PASSWORD_ONLY)

    def op() -> None:
        if nas.ask(nas.request(email, PASSWORD)) != 2:
            raise BenchError("password only: not an Access-Accept")

    return op


def with_codes(port: int, pool: PeoplePool, deadline: Callable[[], float]) -> Callable[[], None]:
    nas = Nas(port, CODES)

    def op() -> None:
        person = pool.take(deadline())
        if person is None:
            raise BenchError("no person with an unused TOTP step")
        step = current_step()
        code = pyotp.TOTP(person.secret).at(step * STEP)
        answer = nas.ask(nas.request(person.email, f"{PASSWORD},{code}"))
        pool.give_back(person, step)
        if answer != 2:
            raise BenchError(f"password + code: code {answer}, not an Access-Accept")

    return op


def waiting_pushes(proc: Any, port: int, emails: list[str]) -> Figures:
    """Send one waiting request per person; the RSS per request once every push is out."""
    from django.db import connections

    from vahva.authenticator.models import PushChallenge

    before = proc_status(proc.pid)
    sockets = []
    started = time.perf_counter()
    for email in emails:
        nas = Nas(port, WAITING)
        nas.send(nas.request(email, PASSWORD))
        sockets.append(nas)
    deadline = time.monotonic() + 120
    while PushChallenge.objects.filter(purpose="signin").count() < len(emails):
        if time.monotonic() > deadline:
            raise BenchError("not every waiting request sent its push")
        time.sleep(0.2)
    connections.close_all()
    sent = time.perf_counter() - started
    after = proc_status(proc.pid)
    per = (after["VmRSS"] - before["VmRSS"]) / len(emails)
    figures = Figures(f"{len(emails)} waiting pushes", count=len(emails), seconds=sent)
    figures.note = (
        f"RSS {before['VmRSS'] / 1024:.0f} → {after['VmRSS'] / 1024:.0f} MiB, "
        f"{per:.1f} KiB per waiting request; threads {before['Threads']} → {after['Threads']}"
    )
    for nas in sockets:
        nas.sock.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase (default 10)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent VPNs (default 4)")
    parser.add_argument("--waits", type=int, default=500, help="waiting pushes (default 500)")
    parser.add_argument("--quick", action="store_true", help="1 s phases, 20 waits: a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.waits = 1.0, 20
    if args.seconds <= 0 or args.clients < 1 or args.waits < 1:
        parser.error("--seconds, --clients and --waits must be positive")

    server_cpu, client_cpu = begin_run()
    with throwaway_vahva() as env:
        from django.db import connections

        from vahva import clock

        pin(server_cpu)
        floor = raw_argon2(args.seconds, "argon2id verify, 1 core")
        pin(client_cpu)
        now = clock.now()
        set_up_clients()
        per_step = STEP * 1000 / (floor.cpu_ms or 1.0)
        needed = math.ceil(per_step * 1.3) + 2 * args.clients * WARM_UP
        if args.quick:
            needed = min(needed, 20 * args.clients)  # 1 s phases use few TOTP steps
        people: list[Person] = make_people(
            needed, prefix="radius", registered_at=now - dt.timedelta(hours=1)
        )
        app_people = people_with_app(args.waits, now - dt.timedelta(hours=1))
        connections.close_all()
        rows = [floor]
        with radius_server(env, server_cpu, push_wait=600) as (proc, port):
            rows.append(
                measure(
                    "password only",
                    [password_only(port, people[i].email) for i in range(args.clients)],
                    seconds=args.seconds,
                    server_pid=proc.pid,
                    warm_up=WARM_UP,
                )
            )
            pool = PeoplePool(people[args.clients :])
            ends: dict[str, float] = {}

            def deadline() -> float:
                return ends.setdefault("at", time.perf_counter() + args.seconds + 30)

            rows.append(
                measure(
                    "password,code in one request",
                    [with_codes(port, pool, deadline) for _ in range(args.clients)],
                    seconds=args.seconds,
                    server_pid=proc.pid,
                    warm_up=WARM_UP,
                )
            )
            if pool.waited:
                rows[-1].note += f"; waited {pool.waited:.1f} s for unused TOTP steps"
            rows.append(waiting_pushes(proc, port, app_people))
    pin(None)
    print()
    print_table(rows, floor)
    for row in rows:
        if row.note:
            print(f"  {row.phase}: {row.note}")
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
