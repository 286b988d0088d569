"""Count SQL statements per request and per sign-in, in-process (untimed), the same way for
vahva and django-allauth: django.test.utils.CaptureQueriesContext around each request of a
django.test.Client. It records what Django's debug cursor sees, BEGIN/COMMIT included
(Django logs them since 4.2); the PRAGMAs a new connection runs (init_command) are not in it:
both projects run the same ones, once per request that touches the database over HTTP
(CONN_MAX_AGE=0)."""

from __future__ import annotations

import collections
import re
from typing import Any


def kind(sql: str) -> str:
    word = re.match(r"\s*(\w+)", sql)
    return word.group(1).upper() if word else "?"


class CountingBrowser:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.sign_ins: list[list[tuple[str, list[str]]]] = []

    def new_sign_in(self) -> None:
        self.sign_ins.append([])

    def _do(self, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            response = getattr(self.client, method)(path, *args, **kwargs)
        self.sign_ins[-1].append(
            (f"{method.upper()} {path}", [q["sql"] for q in captured.captured_queries])
        )
        return response

    def get(self, path: str, *args: Any, **kwargs: Any) -> Any:
        return self._do("get", path, *args, **kwargs)

    def post(self, path: str, *args: Any, **kwargs: Any) -> Any:
        return self._do("post", path, *args, **kwargs)


def report_counts(name: str, browser: CountingBrowser, show_last: bool = True) -> None:
    totals = [sum(len(q) for _, q in s) for s in browser.sign_ins]
    print(
        f"\nSQL statements per sign-in, {name}: {len(totals)} sign-ins, "
        f"min {min(totals)}, max {max(totals)}, mean {sum(totals) / len(totals):.1f}"
    )
    last = browser.sign_ins[-1]
    kinds = collections.Counter(kind(sql) for _, qs in last for sql in qs)
    print("  by kind (last sign-in): " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    for request, queries in last:
        print(f"  {request:<34} {len(queries):>3} statements")
    if show_last:
        print("  statements of the last sign-in:")
        for request, queries in last:
            print(f"    -- {request}")
            for sql in queries:
                print(f"       {sql[:160]}")
