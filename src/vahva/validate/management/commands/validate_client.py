"""``vahva validate-client add NAME`` (prints the new API key, once), ``list`` and
``remove NAME``: the programs that may call the validation API."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vahva.validate import clients


class Command(BaseCommand):
    help = "Add, list or remove the clients of the validation API (RADIUS, VPN, scripts)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a client and print its API key (shown once)")
        add.add_argument("name")
        sub.add_parser("list", help="list the clients")
        remove = sub.add_parser("remove", help="remove a client: its key stops working")
        remove.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _add(self, options: dict[str, Any]) -> None:
        try:
            new = clients.add(options["name"])
        except clients.InvalidClientName as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Added {new.client.name}.")
        self.stdout.write(f"API key (shown once, keep it secret): {new.key}")
        self.stdout.write("Send it as: Authorization: Bearer <API key>")

    def _list(self, options: dict[str, Any]) -> None:
        found = clients.listed()
        if not found:
            self.stdout.write("No clients.")
        for client in found:
            used = f"{client.last_used_at:%Y-%m-%d %H:%M}" if client.last_used_at else "never"
            self.stdout.write(
                f"{client.name}\tkey {client.key_id}.…\tadded {client.created_at:%Y-%m-%d}"
                f"\tlast used {used}"
            )

    def _remove(self, options: dict[str, Any]) -> None:
        if not clients.remove(options["name"]):
            raise CommandError(f"No client called {options['name']!r}.")
        self.stdout.write(f"Removed {options['name']}; its key no longer works.")
