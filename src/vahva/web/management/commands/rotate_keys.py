"""Re-encrypt every secret at rest under VAHVA['ENCRYPTION_KEY_ID']."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from vahva import crypto
from vahva.audit.log import record
from vahva.fields import encrypted_fields


class Command(BaseCommand):
    help = "Re-encrypt all stored secrets under the current encryption key id."

    def handle(self, *args: Any, **options: Any) -> None:
        current = crypto.current_key_id()
        total = 0
        with transaction.atomic():
            for model, field in encrypted_fields():
                table = model._meta.db_table
                column = str(field.column)
                assert model._meta.pk is not None
                pk = str(model._meta.pk.column)
                quote = connection.ops.quote_name
                # Read the raw column to see which key each row is under (no decryption needed
                # for rows already on the current key).
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT {quote(pk)}, {quote(column)} FROM {quote(table)}"  # noqa: S608
                    )
                    stale = [
                        row[0]
                        for row in cursor.fetchall()
                        if row[1] and crypto.key_id_of(row[1]) != current
                    ]
                for obj in model._default_manager.filter(pk__in=stale).only("pk", field.name):
                    # Saving encrypts the (decrypted) value under the current key.
                    obj.save(update_fields=[field.name])
                    total += 1
        record(
            "keys.rotated",
            reason=f"re-encrypted {total} secret(s) under {current}",
            key_id=current,
            count=total,
        )
        self.stdout.write(f"Re-encrypted {total} secret(s) under key id {current!r}.")
