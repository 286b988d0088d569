"""``vahva user add EMAIL | import FILE.csv | list``."""

from __future__ import annotations

import getpass
import secrets
from pathlib import Path
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from vahva.accounts.directory import clean_email, import_csv
from vahva.accounts.models import User
from vahva.audit.log import record


class Command(BaseCommand):
    help = "Add, import or list people."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add one person")
        add.add_argument("email")
        add.add_argument("--name", default="")
        add.add_argument("--staff", action="store_true", help="may use the admin site")
        add.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from standard input instead of asking",
        )
        add.add_argument(
            "--generate-password",
            action="store_true",
            help="generate a random password and print it once",
        )
        imp = sub.add_parser("import", help="import people from CSV (email,full_name[,password])")
        imp.add_argument("file", type=Path)
        sub.add_parser("list", help="list people")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _add(self, options: dict[str, Any]) -> None:
        try:
            email = clean_email(options["email"])
        except ValidationError:
            raise CommandError(f"{options['email']!r} is not an e-mail address") from None
        if User.objects.filter(email=email).exists():
            raise CommandError(f"{email} exists already")
        if options["generate_password"]:
            password = secrets.token_urlsafe(12)
        elif options["password_stdin"]:
            password = self.stdin.readline().rstrip("\n") if hasattr(self, "stdin") else input()
        else:
            password = getpass.getpass(f"Password for {email}: ")
        user = User(email=email, full_name=options["name"], is_staff=options["staff"])
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        user.set_password(password)
        user.save()
        record("user.added", subject=user, reason="vahva user add")
        self.stdout.write(f"Added {email}.")
        if options["generate_password"]:
            self.stdout.write(f"Password (shown once): {password}")

    def _import(self, options: dict[str, Any]) -> None:
        path: Path = options["file"]
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        with path.open(encoding="utf-8-sig", newline="") as handle:
            report = import_csv(handle)
        if report.errors:
            raise CommandError("nothing was imported:\n  " + "\n  ".join(report.errors))
        record(
            "user.imported",
            reason=f"{path.name}: {len(report.created)} created, {len(report.updated)} updated",
        )
        self.stdout.write(f"Created {len(report.created)}, updated {len(report.updated)}.")

    def _list(self, options: dict[str, Any]) -> None:
        for user in User.objects.order_by("email"):
            flags = " staff" if user.is_staff else ""
            active = "" if user.is_active else " (inactive)"
            self.stdout.write(f"{user.email}\t{user.full_name}{flags}{active}")
