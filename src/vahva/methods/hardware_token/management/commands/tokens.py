"""``vahva tokens import FILE [--passphrase P | --psk HEX]`` and ``vahva tokens list``: the
organisation's stock of hardware tokens, from a vendor's PSKC file or a CSV."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vahva import clock
from vahva.audit.log import record
from vahva.errors import VahvaError

from ...importing import MAX_BYTES, read_csv, read_pskc, save_batch
from ...models import HardwareToken


class Command(BaseCommand):
    help = "Import hardware tokens (PSKC or CSV) and list them."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import a batch: every token or none")
        imp.add_argument("file", help="a .pskcxml / .xml (RFC 6030) or a .csv file")
        imp.add_argument(
            "--passphrase",
            help="the PBKDF2 passphrase of an encrypted PSKC file "
            "(or set VAHVA_PSKC_PASSPHRASE, kept out of the shell history)",
        )
        imp.add_argument("--psk", help="the pre-shared AES key of an encrypted PSKC file, in hex")
        imp.add_argument("--format", choices=("pskc", "csv"), help="default: from the file name")
        listed = sub.add_parser("list", help="the tokens and whose each one is")
        listed.add_argument("--state", choices=("available", "active", "retired"))

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            self._list(options["state"])
            return
        path = Path(options["file"])
        try:
            if path.stat().st_size > MAX_BYTES:
                raise CommandError(f"{path} is larger than 10 MiB.")
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{path} cannot be read: {exc.strerror}.") from None
        kind = options["format"] or ("csv" if path.suffix.lower() == ".csv" else "pskc")
        try:
            if kind == "csv":
                seeds = read_csv(data)
            else:
                seeds = read_pskc(
                    data,
                    passphrase=options["passphrase"] or os.environ.get("VAHVA_PSKC_PASSPHRASE", ""),
                    psk=self._psk(options["psk"]),
                )
            count = save_batch(seeds, batch=path.name, now=clock.now())
        except VahvaError as exc:
            raise CommandError(str(exc.message)) from None
        record("tokens.imported", reason=f"{count} token(s) from {path.name}", count=count)
        self.stdout.write(f"Imported {count} token(s) from {path.name}.")

    @staticmethod
    def _psk(raw: str | None) -> bytes:
        if not raw:
            return b""
        try:
            key = bytes.fromhex(raw.strip())
        except ValueError:
            raise CommandError("--psk is the key in hex, e.g. 1234...(32 hex digits).") from None
        if len(key) not in (16, 24, 32):
            raise CommandError("--psk is an AES key: 16, 24 or 32 bytes (32, 48 or 64 hex digits).")
        return key

    def _list(self, state: str | None) -> None:
        found = HardwareToken.objects.select_related("registered__user", "reserved_for")
        if state:
            found = found.filter(state=state)
        for token in found:
            holder = token.registered.user.email if token.registered else ""
            if not holder and token.reserved_for is not None:
                holder = f"reserved for {token.reserved_for.email}"
            self.stdout.write(
                f"{token.serial}\t{token.algorithm}\t{token.digits}\t{token.state}\t{holder}"
            )
