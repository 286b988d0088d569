"""``vahva directory test [USERNAME]`` and ``vahva directory sync [--dry-run]``."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vahva import clock
from vahva.audit.log import record
from vahva.directory import lookups
from vahva.directory.connection import UNREACHABLE, DirectoryUnavailable, connect
from vahva.directory.entries import UnusableEntry, person_from
from vahva.directory.models import DirectoryLink
from vahva.directory.service import current_config
from vahva.directory.sync import MassDisable, sync

BAR = 30


class Command(BaseCommand):
    help = "Check the connection to the organisation's directory, or sync people from it."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        test = sub.add_parser("test", help="connect, and show what vahva reads for one person")
        test.add_argument("username", nargs="?", default="")
        run = sub.add_parser("sync", help="create, update and disable people from the directory")
        run.add_argument("--dry-run", action="store_true", help="count the changes, save none")
        run.add_argument(
            "--allow-mass-disable",
            action="store_true",
            help="disable people even when more than half of them left the directory at once",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = current_config()
        if not config.enabled:
            raise CommandError("[vahva.directory] is not enabled in the configuration")
        try:
            getattr(self, f"_{options['action']}")(config, options)
        except DirectoryUnavailable as exc:
            raise CommandError(f"{exc.message} ({exc.__cause__!r})") from None

    def _test(self, config: Any, options: dict[str, Any]) -> None:
        conn = connect(config)
        try:
            who = conn.whoami_s() or "anonymous"
            self.stdout.write(f"Connected to {config.uri} as {who}")
            self.stdout.write(f"TLS: {'StartTLS' if config.start_tls else _tls_of(config.urls)}")
            username = options["username"]
            if not username:
                return
            try:
                found = lookups.find(config, conn, username)
            except UNREACHABLE as exc:
                raise DirectoryUnavailable() from exc
            if len(found) != 1:
                raise CommandError(f"{len(found)} entries match {username!r}; sign-in needs 1")
            dn, attrs = found[0]
            self.stdout.write(f"Found: {dn}")
            groups = lookups.group_dns(config, conn, dn, attrs)
            disabled = lookups.is_disabled(config, conn, dn)
            try:
                person = person_from(config, dn, attrs, group_dns=groups, disabled=disabled)
            except UnusableEntry as exc:
                raise CommandError(f"vahva cannot use this entry: {exc}") from None
        finally:
            conn.unbind_s()
        for name in ("immutable_id", "email", "full_name", "given_name", "surname", "username"):
            attribute = config.attributes[name]
            self.stdout.write(f"  {name:<13} ({attribute}): {getattr(person, name)}")
        for name in ("affiliation", "mobile"):
            self.stdout.write(f"  {name:<13} ({config.attributes[name]}): {getattr(person, name)}")
        self.stdout.write(f"  roles: {', '.join(sorted(person.roles)) or 'none'}")
        self.stdout.write(f"  disabled: {'yes' if person.disabled else 'no'}")
        link = DirectoryLink.objects.filter(immutable_id=person.immutable_id).first()
        self.stdout.write(
            f"  in vahva: {link.user.email if link else 'not yet (created at sign-in or sync)'}"
        )

    def _sync(self, config: Any, options: dict[str, Any]) -> None:
        dry_run = options["dry_run"]
        expected = max(DirectoryLink.objects.filter(present=True).count(), 1)
        tty = hasattr(self.stdout, "isatty") and self.stdout.isatty()

        def progress(read: int) -> None:
            if tty:
                done = min(BAR, BAR * read // expected)
                sys.stdout.write(f"\r[{'#' * done}{' ' * (BAR - done)}] {read} people")
                sys.stdout.flush()

        try:
            report = sync(
                config,
                now=clock.now(),
                dry_run=dry_run,
                progress=progress,
                allow_mass_disable=options["allow_mass_disable"],
            )
        except MassDisable as exc:
            raise CommandError(str(exc.message)) from None
        if tty:
            sys.stdout.write("\n")
        counts = report.counts()
        if not dry_run:
            record("directory.sync", reason="vahva directory sync", counts=counts)
        for line in report.conflicts[:20] + report.skipped[:20]:
            self.stderr.write(line)
        summary = ", ".join(f"{n} {name}" for name, n in counts.items())
        self.stdout.write(("Dry run (nothing saved): " if dry_run else "Synced: ") + summary)


def _tls_of(urls: tuple[str, ...]) -> str:
    if all(url.startswith("ldaps://") for url in urls):
        return "ldaps"
    return "none (loopback only)"
