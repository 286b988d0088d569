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
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.signals import post_save, pre_save

M = TypeVar("M", bound=models.Model)

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


def rows(
    sql: str,
    params: Sequence[Any],
    *,
    using: str = "default",
    fields: Sequence[models.Field[Any, Any]] = (),
) -> list[tuple[Any, ...]]:
    """Run ``sql`` with ``params`` (datetimes stored as the ORM stores them); its rows, each
    column converted as the ORM converts ``fields[i]`` (a datetime from SQLite's text, a
    secret decrypted...) when ``fields`` are given."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(sql, adapt(connection, params))
        found = list(cursor.fetchall())
    if not fields:
        return found
    converters = [_converters(connection, field) for field in fields]
    return [tuple(_converted(connection, converters, row)) for row in found]


def execute(sql: str, params: Sequence[Any], *, using: str = "default") -> int:
    """Run the writing statement ``sql`` with ``params`` (datetimes as the ORM stores them);
    the number of rows it changed."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(sql, adapt(connection, params))
        return int(cursor.rowcount)


def columns(model: type[models.Model], quote: Callable[[str], str], prefix: str = "") -> str:
    """The model's concrete columns, quoted, in field order (``prefix``: a table alias)."""
    return ", ".join(prefix + quote(str(field.column)) for field in model._meta.concrete_fields)


def table(model: type[models.Model], quote: Callable[[str], str]) -> str:
    """The model's table, quoted."""
    return quote(str(model._meta.db_table))


def field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    """The model's concrete field ``name``."""
    found = model._meta.get_field(name)
    assert isinstance(found, models.Field)
    return found


def from_row(
    model: type[models.Model], row: Sequence[Any], *, using: str = "default"
) -> models.Model:
    """An instance of ``model`` from a row of its :func:`columns`, each converted as the ORM
    converts it (as ``Model.from_db`` builds the ORM's own instances)."""
    connection = connections[using]
    names, converters = _model_converters(connection, model)
    return model.from_db(using, names, list(_converted(connection, converters, row)))


def instances(
    model: type[M], sql: str, params: Sequence[Any], *, using: str = "default"
) -> list[M]:
    """The instances of ``model`` that ``sql`` (selecting its :func:`columns`) finds: what
    ``Model.objects.raw()`` gives, without its per-query set-up (column order, converters)."""
    connection = connections[using]
    names, converters = _model_converters(connection, model)
    with connection.cursor() as cursor:
        cursor.execute(sql, adapt(connection, params))
        found = cursor.fetchall()
    return [
        model.from_db(using, names, list(_converted(connection, converters, row))) for row in found
    ]


def insert(obj: models.Model, *, using: str = "default") -> None:
    """INSERT ``obj`` as ``Model.save(force_insert=True)`` does (its one statement, with no
    transaction around it): every value through its field's ``pre_save`` and
    ``get_db_prep_save``, an automatic key read back, ``pre_save``/``post_save`` sent (the
    metrics count audit rows on it)."""
    model = type(obj)
    meta = model._meta
    connection = connections[using]
    auto = meta.auto_field if getattr(obj, meta.pk.attname) is None else None
    fields = [each for each in meta.concrete_fields if each is not auto]
    returning = auto is not None and connection.features.can_return_columns_from_insert

    def write(quote: Callable[[str], str]) -> str:
        names = ", ".join(quote(str(each.column)) for each in fields)
        marks = ", ".join(["%s"] * len(fields))
        tail = f" RETURNING {quote(str(auto.column))}" if returning and auto is not None else ""
        # Names from the model, quoted; every value a parameter.
        return f"INSERT INTO {table(model, quote)} ({names}) VALUES ({marks}){tail}"  # noqa: S608

    sql = statement(f"insert:{meta.label}:{auto is not None}", write, using=using)
    pre_save.send(sender=model, instance=obj, raw=False, using=using, update_fields=None)
    values = [each.get_db_prep_save(each.pre_save(obj, True), connection) for each in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        if auto is not None:
            key = (
                cursor.fetchone()[0]
                if returning
                else connection.ops.last_insert_id(cursor, str(meta.db_table), str(auto.column))
            )
            setattr(obj, auto.attname, key)
    obj._state.adding = False
    obj._state.db = using
    post_save.send(
        sender=model, instance=obj, created=True, update_fields=None, raw=False, using=using
    )


#: (database alias, vendor, field) -> its column and the converters the ORM applies to it.
_CONVERTERS: dict[tuple[str, str, Any], tuple[Any, list[Callable[..., Any]]]] = {}


def _converters(
    connection: BaseDatabaseWrapper, field: models.Field[Any, Any]
) -> tuple[Any, list[Callable[..., Any]]]:
    key = (connection.alias, connection.vendor, field)
    found = _CONVERTERS.get(key)
    if found is None:
        column = field.get_col(field.model._meta.db_table)
        found = _CONVERTERS[key] = (
            column,
            [*connection.ops.get_db_converters(column), *column.get_db_converters(connection)],
        )
    return found


#: (database alias, vendor, model) -> its concrete fields' attnames and converters, in order.
_MODELS: dict[
    tuple[str, str, Any], tuple[list[str], list[tuple[Any, list[Callable[..., Any]]]]]
] = {}


def _model_converters(
    connection: BaseDatabaseWrapper, model: type[models.Model]
) -> tuple[list[str], list[tuple[Any, list[Callable[..., Any]]]]]:
    """The attnames and converters of ``model``'s :func:`columns`, looked up once per model
    (a row of 15 columns is otherwise 15 lookups by field, each hashing the field)."""
    key = (connection.alias, connection.vendor, model)
    found = _MODELS.get(key)
    if found is None:
        fields = model._meta.concrete_fields
        found = _MODELS[key] = (
            [each.attname for each in fields],
            [_converters(connection, each) for each in fields],
        )
    return found


def _converted(
    connection: BaseDatabaseWrapper,
    converters: Sequence[tuple[Any, list[Callable[..., Any]]]],
    row: Sequence[Any],
) -> Iterator[Any]:
    for value, (column, functions) in zip(row, converters, strict=True):
        for function in functions:
            value = function(value, column, connection)
        yield value


def adapt(connection: BaseDatabaseWrapper, params: Sequence[Any]) -> list[Any]:
    """``params`` as the ORM would send them: a datetime in the form the column holds (on
    SQLite a naive UTC text, which a comparison with a Python datetime would get wrong)."""
    return [
        connection.ops.adapt_datetimefield_value(value) if isinstance(value, dt.datetime) else value
        for value in params
    ]
