"""``vahva tap issue EMAIL --ticket T [--minutes N] [--reusable]`` and
``vahva tap revoke EMAIL --ticket T``: the helpdesk's temporary access pass from the shell."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from vahva import clock
from vahva.accounts.models import normalise_email
from vahva.conf import settings
from vahva.errors import VahvaError
from vahva.methods import tap

if TYPE_CHECKING:
    from vahva.accounts.models import User


class Command(BaseCommand):
    help = "Issue or revoke a person's temporary access pass (for a lost phone)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        issue = sub.add_parser("issue", help="issue a pass (replaces any earlier one)")
        issue.add_argument("email")
        issue.add_argument("--ticket", required=True, help="the helpdesk ticket, e.g. HD-123")
        # Parsed here, not by argparse, so that a bad value is a clear CommandError (exit 1).
        issue.add_argument(
            "--minutes",
            help=f"how long the pass works (default {settings.TAP_LIFETIME // 60})",
        )
        issue.add_argument(
            "--reusable",
            action="store_true",
            help="works until it expires, not only once",
        )
        revoke = sub.add_parser("revoke", help="revoke the person's pass")
        revoke.add_argument("email")
        revoke.add_argument("--ticket", required=True, help="the helpdesk ticket, e.g. HD-123")

    def handle(self, *args: Any, **options: Any) -> None:
        user = self._person(options["email"])
        try:
            getattr(self, f"_{options['action']}")(user, options)
        except VahvaError as exc:
            raise CommandError(str(exc.message)) from None

    def _person(self, email: str) -> Any:
        user = get_user_model().objects.filter(email=normalise_email(email)).first()
        if user is None:
            raise CommandError(f"No person with the e-mail address {email!r}.")
        return user

    def _minutes(self, raw: str | None) -> int | None:
        if raw is None:
            return None
        longest = int(settings.TAP_MAX_LIFETIME) // 60
        try:
            minutes = int(raw.strip())
        except ValueError:
            raise CommandError(f"--minutes must be a whole number, not {raw!r}.") from None
        if not 1 <= minutes <= longest:
            raise CommandError(f"--minutes must be from 1 to {longest} (TAP_MAX_LIFETIME).")
        return minutes * 60

    def _issue(self, user: User, options: dict[str, Any]) -> None:
        lifetime = self._minutes(options["minutes"])
        registered, code = tap.issue(
            user,
            now=clock.now(),
            ticket=options["ticket"],
            lifetime=lifetime,
            one_time=not options["reusable"],
        )
        assert registered.expires_at is not None
        until = timezone.localtime(registered.expires_at).strftime("%Y-%m-%d %H:%M %Z")
        uses = "Works until" if options["reusable"] else "One use, until"
        self.stdout.write(f"Temporary access pass for {user.email} (shown once, not stored):")
        self.stdout.write("")
        self.stdout.write(f"    {code}")
        self.stdout.write("")
        self.stdout.write(f"{uses} {until}. Ticket {registered.data['ticket']}.")

    def _revoke(self, user: User, options: dict[str, Any]) -> None:
        if tap.revoke(user, ticket=options["ticket"]):
            self.stdout.write(f"Revoked the temporary access pass of {user.email}.")
        else:
            self.stdout.write(f"{user.email} had no temporary access pass that still works.")
