"""Sign-in by bind against a local argon2id check, and ``vahva directory sync`` at scale.

Figures, not assertions (DESIGN.md §9): a real OpenLDAP slapd on loopback (the test suite's
``tests/slapd_server.py``) and a throwaway vahva (SQLite, production settings).

1. local: ``authenticate()`` of a local account (vahva's argon2id hasher), per second.
2. bind: ``authenticate()`` through the directory backend (service bind, search, the
   person's bind, apply), per second; and a bare python-ldap bind for the floor.
3. sync: ``--people`` entries loaded into slapd (ldapadd, not timed), then a first sync
   (everyone created), a second (nothing changed) and a third after 1 % changed.

    .venv/bin/python bench/directory.py [--people 100000] [--seconds 5] [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "src")]

from _common import PASSWORD, throwaway_vahva  # noqa: E402
from tests.slapd_server import (  # noqa: E402
    ADMIN_DN,
    ADMIN_PW,
    PEOPLE,
    USERS,
    SlapdServer,
    ssha,
)


def rate(seconds: float, action: Callable[[], object]) -> float:
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        action()
        count += 1
    return count / elapsed


def people_ldif(count: int) -> str:
    password = ssha("bench-directory-pw")  # one hash for all: loading is not measured
    entries = []
    for i in range(count):
        uid = f"p{i:06d}"
        entries.append(
            f"dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\n"
            f"cn: Person {i}\nsn: Person\ngivenName: P{i}\nmail: {uid}@bench.example\n"
            f"userPassword: {password}\n"
        )
    return "\n".join(entries)


def memory() -> str:
    """This process's resident memory now and at its peak (the sync runs in it)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    now, peak = (int(fields[key].split()[0]) // 1024 for key in ("VmRSS", "VmHWM"))
    return f"RSS {now} MiB (peak {peak} MiB)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true", help="1,000 people, 1 s phases")
    args = parser.parse_args()
    if args.quick:
        args.people, args.seconds = 1000, 1.0

    with (
        tempfile.TemporaryDirectory(prefix="vahva-bench-slapd-") as tmp,
        SlapdServer(Path(tmp)) as slapd,
        throwaway_vahva(),
    ):
        import ldap
        from django.contrib.auth import authenticate
        from django.test.utils import override_settings

        from vahva import clock
        from vahva.accounts.models import User
        from vahva.conf import settings as vahva_settings
        from vahva.directory.service import current_config
        from vahva.directory.sync import sync

        table = {
            "enabled": True,
            "urls": [slapd.uri],
            "bind_dn": ADMIN_DN,
            "bind_password": ADMIN_PW,
            "user_base": PEOPLE,
            "page_size": 500,
        }
        from django.conf import settings

        User.objects.create_user("local@bench.example", PASSWORD)
        local = rate(
            args.seconds,
            lambda: authenticate(None, username="local@bench.example", password=PASSWORD),
        )
        with override_settings(
            VAHVA={**settings.VAHVA, "DIRECTORY": table},
            AUTHENTICATION_BACKENDS=[
                "vahva.directory.backend.DirectoryBackend",
                "django.contrib.auth.backends.ModelBackend",
            ],
        ):
            assert vahva_settings.DIRECTORY["enabled"]
            beside = rate(
                args.seconds,
                lambda: authenticate(None, username="local@bench.example", password=PASSWORD),
            )
            alice_pw = USERS["alice"][0]
            assert authenticate(None, username="alice", password=alice_pw) is not None
            bind = rate(
                args.seconds, lambda: authenticate(None, username="alice", password=alice_pw)
            )

            def bare() -> None:
                conn = ldap.initialize(slapd.uri)
                conn.simple_bind_s(slapd.user_dn("alice"), alice_pw)
                conn.unbind_s()

            floor = rate(args.seconds, bare)
            print(f"local argon2id sign-in check:   {local:8.1f} /s")
            print(f"  the same, directory on:       {beside:8.1f} /s  (a search first)")
            print(f"directory sign-in by bind:      {bind:8.1f} /s  ({bind / local:.2f}x local)")
            print(f"bare python-ldap bind (floor):  {floor:8.1f} /s")

            ldif = Path(tmp) / "people.ldif"
            ldif.write_text(people_ldif(args.people))
            started = time.perf_counter()
            subprocess.run(
                ["ldapadd", "-x", "-H", slapd.uri, "-D", ADMIN_DN, "-w", ADMIN_PW,
                 "-f", str(ldif)],
                check=True, capture_output=True,
            )  # fmt: skip
            print(f"loaded {args.people:,} people into slapd in "
                  f"{time.perf_counter() - started:.1f} s (not measured)")  # fmt: skip
            config = current_config()
            for label in ("first sync (all new)", "second sync (no change)"):
                started = time.perf_counter()
                report = sync(config, now=clock.now())
                took = time.perf_counter() - started
                print(f"{label:<26} {took:7.1f} s  {report.read / took:8.0f} people/s  "
                      f"{report.counts()}  {memory()}")  # fmt: skip
            conn = slapd.admin()
            changed = max(1, args.people // 100)
            for i in range(changed):
                conn.modify_s(f"uid=p{i:06d},{PEOPLE}", [(ldap.MOD_REPLACE, "cn", [b"New"])])
            conn.unbind_s()
            started = time.perf_counter()
            report = sync(config, now=clock.now())
            took = time.perf_counter() - started
            print(f"{'third sync (1 % changed)':<26} {took:7.1f} s  "
                  f"{report.read / took:8.0f} people/s  {report.counts()}  {memory()}")  # fmt: skip


if __name__ == "__main__":
    main()
