"""A memo for one request: what a request reads more than once (a person's methods) is read once.

Only inside a request (:class:`RequestMemoMiddleware`, in both middleware chains): outside
one (a management command, the RADIUS server, a test calling a function directly) nothing is
kept and every call reads the database, as before. The memo is forgotten at the end of the
request, and as soon as the request writes to a table a memo entry was read from: any
INSERT, UPDATE or DELETE on that table through the request's database connection empties
the memo (a method registered, removed, made the default, or its counter moved by a code
check), so a request never acts on methods it has itself changed since it read them. Nothing
is kept from inside a transaction (it could be rolled back after it was read).
Another request's write lands in the next request, exactly as if this one had read the
methods once at its start.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import connection
from django.http import HttpRequest, HttpResponse

T = TypeVar("T")

#: table name -> {key: value}; None outside a request.
_memo: contextvars.ContextVar[dict[str, dict[Any, Any]] | None] = contextvars.ContextVar(
    "vahva_request_memo", default=None
)

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def remembered(table: str, key: Any, load: Callable[[], T]) -> T:
    """``load()``'s value, read once per request for (``table``, ``key``); ``load()`` every
    time outside a request. ``table`` is the database table the value comes from: a write to
    it in this request forgets the value."""
    memo = _memo.get()
    if memo is None or key is None or connection.in_atomic_block:
        # Inside a transaction the value might be rolled back after it was kept: not kept.
        return load()
    entries = memo.setdefault(table, {})
    if key not in entries:
        entries[key] = load()
    value: T = entries[key]
    return value


def _forget_on_write(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    memo = _memo.get()
    if memo and sql.lstrip()[:7].upper().startswith(_WRITES):
        for table in [t for t in memo if t in sql]:
            # The request changed what it read: read it again next time.
            del memo[table]
    return execute(sql, params, many, context)


@contextmanager
def request_memo() -> Iterator[None]:
    """Keep a memo for the code run inside (one request)."""
    token = _memo.set({})
    try:
        with connection.execute_wrapper(_forget_on_write):
            yield
    finally:
        _memo.reset(token)


class RequestMemoMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_memo():
            return self.get_response(request)
