"""Moving a method's models into its own package moves no data: a database migrated before
the move keeps every row, and reads it through the model's new app afterwards."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("methods", "0006_phone_outbox"), ("recovery_codes", None), ("hardware_token", None)]


def _migrate(targets: list[tuple[str, str | None]]) -> object:
    """Migrate the named apps to ``targets``; the state of every app as the database is then."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    moved = {app for app, _name in targets}
    others = [n for n in executor.loader.graph.leaf_nodes() if n[0] not in moved]
    return executor.loader.project_state(others + [t for t in targets if t[1] is not None]).apps


def _latest() -> list[tuple[str, str | None]]:
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes()]


def test_recovery_codes_made_before_the_move_are_read_after_it() -> None:
    latest = _latest()
    old = _migrate(BEFORE)
    user = old.get_model("accounts", "User").objects.create(  # type: ignore[attr-defined]
        email="alice@example.org", full_name="Alice", password="!"
    )
    now = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    registered = old.get_model("methods", "RegisteredMethod").objects.create(  # type: ignore[attr-defined]
        user=user, kind="recovery", created_at=now
    )
    old.get_model("methods", "RecoveryCode").objects.create(  # type: ignore[attr-defined]
        registered=registered, index="AB", salt="s", digest="d"
    )

    new = _migrate(latest)
    moved = new.get_model("recovery_codes", "RecoveryCode")  # type: ignore[attr-defined]
    (row,) = moved.objects.all()
    assert (row.index, row.salt, row.digest, row.registered_id) == ("AB", "s", "d", registered.pk)
    with connection.cursor() as cursor:
        # The table did not move: no copy, no rename.
        assert "methods_recoverycode" in connection.introspection.table_names(cursor)
