"""``vahva scim token add NAME`` (prints the new bearer token, once), ``token list`` and
``token revoke NAME``: the identity systems that may provision people into vahva."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vahva.scim import tokens


class Command(BaseCommand):
    help = "Manage the bearer tokens of SCIM provisioning clients (identity systems)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="what", required=True)
        token = sub.add_parser("token", help="provisioning clients' bearer tokens")
        actions = token.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="add a client and print its token (shown once)")
        add.add_argument("name")
        actions.add_parser("list", help="list the clients")
        revoke = actions.add_parser("revoke", help="revoke a client's token: it stops working")
        revoke.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _add(self, options: dict[str, Any]) -> None:
        try:
            new = tokens.add(options["name"])
        except tokens.InvalidClientName as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Added {new.client.name}.")
        self.stdout.write(f"Bearer token (shown once, keep it secret): {new.token}")
        self.stdout.write("The identity system sends it as: Authorization: Bearer <token>")

    def _list(self, options: dict[str, Any]) -> None:
        found = tokens.listed()
        if not found:
            self.stdout.write("No provisioning clients.")
        for client in found:
            used = f"{client.last_used_at:%Y-%m-%d %H:%M}" if client.last_used_at else "never"
            state = f"revoked {client.revoked_at:%Y-%m-%d}" if client.revoked_at else "active"
            self.stdout.write(
                f"{client.name}\ttoken {client.token_id}.…\tadded {client.created_at:%Y-%m-%d}"
                f"\tlast used {used}\t{state}"
            )

    def _revoke(self, options: dict[str, Any]) -> None:
        if not tokens.revoke(options["name"]):
            raise CommandError(f"No active client called {options['name']!r}.")
        self.stdout.write(f"Revoked {options['name']}; its token no longer works.")
