"""Statements on the hot path written once per process, instead of built by the ORM each time.

On this project's machines the ORM spends 0.2 to 0.5 ms of CPU building and compiling a query
(``build_filter``, ``as_sql``...) that the database then answers in microseconds: the person's
exemption, measured in-process, 389 µs through the ORM against 19 µs as its SQL (bench/README,
"The door's two reads"). The statements that every sign-in and refresh grant runs are written
here from the models' own table and column names, quoted by the connection, once per process
and database vendor; every value is a parameter (no text of a request ever becomes SQL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

#: (database alias, vendor, name) -> the statement.
_WRITTEN: dict[tuple[str, str, str], str] = {}


def statement(
    name: str, write: Callable[[Callable[[str], str]], str], *, using: str = "default"
) -> str:
    """The statement called ``name``, written by ``write(quote)`` the first time it is asked
    for on this database (``quote`` quotes a table or column name for it)."""
    connection = connections[using]
    key = (using, connection.vendor, name)
    found = _WRITTEN.get(key)
    if found is None:
        found = _WRITTEN[key] = write(connection.ops.quote_name)
    return found


def column(model: Any, name: str) -> str:
    """The column of ``model``'s field ``name`` (unquoted)."""
    found = getattr(model._meta.get_field(name), "column", None)
    if not isinstance(found, str):
        raise TypeError(f"{model.__name__}.{name} has no column")
    return found


def rows(sql: str, params: Sequence[Any], *, using: str = "default") -> list[tuple[Any, ...]]:
    """Run ``sql`` with ``params`` (datetimes stored as the ORM stores them); its rows."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(sql, adapt(connection, params))
        return list(cursor.fetchall())


def adapt(connection: BaseDatabaseWrapper, params: Sequence[Any]) -> list[Any]:
    """``params`` as the ORM would send them: a datetime in the form the column holds (on
    SQLite a naive UTC text, which a comparison with a Python datetime would get wrong)."""
    return [
        connection.ops.adapt_datetimefield_value(value) if isinstance(value, dt.datetime) else value
        for value in params
    ]
