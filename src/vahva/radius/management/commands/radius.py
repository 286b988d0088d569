"""``vahva radius serve [--address A] [--port P]``: the RADIUS server for VPNs and network
devices; ``vahva radius client add NAME --address CIDR --secret S [--mfa RULE]``, ``client
list``, ``client remove NAME``: the clients (NAS) allowed to ask it."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vahva.radius import clients, server
from vahva.radius.models import Prompt
from vahva.signin.requirements import ServiceRule


class Command(BaseCommand):
    help = "Serve RADIUS (RFC 2865) for VPNs, and manage its clients."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        serve = sub.add_parser("serve", help="serve RADIUS on UDP")
        serve.add_argument("--address", default="127.0.0.1", help="address to listen on")
        serve.add_argument("--port", type=int, default=1812, help="UDP port (default 1812)")
        serve.add_argument(
            "--accounting-port",
            type=int,
            default=1813,
            help="UDP port where accounting is acknowledged and ignored (default 1813; 0: none)",
        )
        client = sub.add_parser("client", help="the clients (NAS) allowed to ask")
        what = client.add_subparsers(dest="client_action", required=True)
        add = what.add_parser("add", help="add a client")
        add.add_argument("name")
        add.add_argument(
            "--address",
            action="append",
            required=True,
            help="address or CIDR block the client sends from (repeatable)",
        )
        add.add_argument("--secret", required=True, help="the shared secret (16+ characters)")
        add.add_argument(
            "--mfa",
            default=ServiceRule.OUTSIDE_TRUSTED.value,
            choices=[rule.value for rule in ServiceRule],
            help="when a second factor is asked (default: outside trusted networks)",
        )
        add.add_argument("--service", default="", help="the service name (default: NAME)")
        add.add_argument(
            "--prompt",
            default=Prompt.CHALLENGE.value,
            choices=Prompt.values,
            help="challenge: the client shows a prompt; wait: the request waits for the app",
        )
        add.add_argument(
            "--appended-codes",
            action="store_true",
            help='accept a code appended to the password ("password,123456")',
        )
        add.add_argument(
            "--approve-only",
            action="store_true",
            help="with --prompt wait: the app asks Approve/Deny without a number to type "
            "(weaker against push bombing; see docs/radius.md)",
        )
        what.add_parser("list", help="list the clients")
        remove = what.add_parser("remove", help="remove a client")
        remove.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "serve":
            self._serve(options)
            return
        getattr(self, f"_client_{options['client_action']}")(options)

    def _serve(self, options: dict[str, Any]) -> None:
        def ready(message: str) -> None:
            self.stdout.write(message)
            sys.stdout.flush()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                server.serve(
                    options["address"],
                    options["port"],
                    accounting_port=options["accounting_port"],
                    ready=ready,
                )
            )

    def _client_add(self, options: dict[str, Any]) -> None:
        try:
            client = clients.add(
                options["name"],
                addresses=options["address"],
                secret=options["secret"],
                mfa_rule=options["mfa"],
                service=options["service"],
                prompt=options["prompt"],
                appended_codes=options["appended_codes"],
                approve_only=options["approve_only"],
            )
        except clients.InvalidClient as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Added RADIUS client {client.name} ({', '.join(client.addresses)}), "
            f"MFA {client.mfa_rule}, prompt {client.prompt}"
            + (", approve-only pushes." if client.approve_only else ".")
        )

    def _client_list(self, options: dict[str, Any]) -> None:
        found = clients.listed()
        if not found:
            self.stdout.write("No RADIUS clients.")
        for client in found:
            self.stdout.write(
                f"{client.name}\t{', '.join(client.addresses)}\tservice {client.service_name}"
                f"\tMFA {client.mfa_rule}\tprompt {client.prompt}"
                + ("\tappended codes" if client.appended_codes else "")
                + ("\tapprove-only pushes" if client.approve_only else "")
            )

    def _client_remove(self, options: dict[str, Any]) -> None:
        if not clients.remove(options["name"]):
            raise CommandError(f"No RADIUS client called {options['name']!r}.")
        self.stdout.write(f"Removed {options['name']}; its packets are dropped from now on.")
