"""``vahva authenticator``: the vahva app as a command-line client of the device API.

    vahva authenticator enroll '<https://…/app/enroll#code>' [--name NAME]
    vahva authenticator pending
    vahva authenticator approve [--number N] [--challenge ID]
    vahva authenticator deny [--report] [--challenge ID]
    vahva authenticator remove

Every subcommand takes ``--state DIR`` (default ``~/.config/vahva-authenticator``), where the
device's key (mode 0600) and id are kept.
"""

from __future__ import annotations

import argparse
import socket
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vahva import clock
from vahva.authenticator.client import DEFAULT_STATE, ClientError, DeviceClient


def _number(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 10 <= int(text) <= 99):
        raise argparse.ArgumentTypeError("the number is the two digits shown on the computer")
    return int(text)


class Command(BaseCommand):
    help = "Act as a vahva app device: enrol, list pending sign-in requests, approve or deny."
    # A client of a (possibly remote) server: it needs no database and no checks of this one.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)

        def action(name: str, help: str) -> argparse.ArgumentParser:
            sub: argparse.ArgumentParser = actions.add_parser(name, help=help)
            sub.add_argument(
                "--state",
                type=Path,
                default=DEFAULT_STATE,
                help=f"directory for the device's key and id (default {DEFAULT_STATE})",
            )
            return sub

        enroll = action("enroll", "add an account from its enrolment link")
        enroll.add_argument("link", help="the link in the QR code: https://…/app/enroll#<code>")
        enroll.add_argument("--name", default="", help="the device's name (default: host name)")
        action("pending", "list the requests waiting")
        approve = action("approve", "approve a request")
        approve.add_argument(
            "--number",
            type=_number,
            help="the number shown on the computer (not for an approve-only request)",
        )
        approve.add_argument("--challenge", help="which request, when several are waiting")
        deny = action("deny", "deny a request")
        deny.add_argument("--report", action="store_true", help="it was not me: deny and report it")
        deny.add_argument("--challenge", help="which request, when several are waiting")
        action("remove", "remove this device from the account")

    def handle(self, *args: Any, **options: Any) -> None:
        client = DeviceClient(options["state"], now=lambda: clock.now().timestamp())
        try:
            getattr(self, f"_{options['action']}")(client, options)
        except ClientError as exc:
            raise CommandError(str(exc)) from None

    def _enroll(self, client: DeviceClient, options: dict[str, Any]) -> None:
        name = options["name"] or f"{socket.gethostname()} (command line)"
        data = client.enroll(options["link"], name=name)
        self.stdout.write(f"Enrolled as device {data['device']} ({data['name']}).")
        self.stdout.write(
            "Let's try it out: the computer shows a number. Approve the test request with\n"
            "  vahva authenticator approve --number <number>"
        )

    def _pending(self, client: DeviceClient, options: dict[str, Any]) -> None:
        challenges = client.pending()
        if not challenges:
            self.stdout.write("No requests waiting.")
        for c in challenges:
            where = f" from {c['ip']}" if c.get("ip") else ""
            service = f" to {c['service']}" if c.get("service") else ""
            if c.get("match") == "none":
                # No number to type (a VPN that cannot show one): the question is the request.
                what = f"Approve sign-in{service}{where}? (approve or deny, no number)"
            else:
                kind = "Test request" if c.get("purpose") == "test" else "Sign-in request"
                what = f"{kind}{service}{where}"
            self.stdout.write(
                f"{c['id']}  {what} for {c.get('organisation', '')}, expires {c['expires_at']}"
            )

    def _approve(self, client: DeviceClient, options: dict[str, Any]) -> None:
        data = client.answer("approve", number=options["number"], challenge=options["challenge"])
        self.stdout.write(f"Approved ({data['challenge']}).")

    def _deny(self, client: DeviceClient, options: dict[str, Any]) -> None:
        decision = "report" if options["report"] else "deny"
        data = client.answer(decision, challenge=options["challenge"])
        done = "Denied and reported" if options["report"] else "Denied"
        self.stdout.write(f"{done} ({data['challenge']}).")

    def _remove(self, client: DeviceClient, options: dict[str, Any]) -> None:
        data = client.remove()
        self.stdout.write(f"Removed device {data['device']}.")
