"""CPU per render of the two pages a sign-in renders (issue 20, the sign-in pages' templates).

``signin/password.html`` (GET /signin/) and the TOTP code page ``methods/totp/verify.html``
(GET /signin/verify/), both extending ``web/base.html``, rendered by the real views through
``django.test.Client`` in a throwaway vahva (production settings, DEBUG off). Django's
``Template.render`` of the template backend is wrapped with ``time.process_time``, so each
figure is the CPU of the template render alone (context processors, tags, CSRF token
included), per page; the request's other work is left out. A second table gives the whole
GET (middleware, view, session) for the same pages.

    .venv/bin/python bench/templates.py [--renders N] [--rounds N] [--plain] [--profile PAGE]
    .venv/bin/python bench/compare.py --before /tmp/tmpl-before/src -- templates.py

The figures print as a ``phase ... cpu ms/op`` table, which ``compare.py`` puts side by side.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import sys
import time
from collections import defaultdict
from typing import Any

from _common import (
    Figures,
    begin_run,
    load_average,
    make_people,
    password_step,
    pin,
    print_table,
    process_cpu_seconds,
    profile_summary,
    serving,
    throwaway_vahva,
)

PAGES = {"password": "/signin/", "verify": "/signin/verify/"}
#: What a render of each page is recorded under: the outermost template rendered.
TEMPLATES = {"password": "signin/password.html", "verify": "methods/totp/verify.html"}


class RenderClock:
    """Wraps the Django backend's ``Template.render``: CPU seconds per template name."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)
        self._original: Any = None

    def __enter__(self) -> RenderClock:
        from django.template.backends.django import Template

        self._original = original = Template.render
        clock = self

        def render(self: Any, context: Any = None, request: Any = None) -> Any:
            began = time.process_time()
            try:
                return original(self, context, request)
            finally:
                name = self.template.origin.template_name
                clock.cpu[name] += time.process_time() - began
                clock.count[name] += 1

        Template.render = render  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        from django.template.backends.django import Template

        Template.render = self._original  # type: ignore[method-assign]

    def reset(self) -> None:
        self.cpu.clear()
        self.count.clear()


def use_plain_templates(plain: bool) -> None:
    """Swap the two pages and web/base.html in the cached loader: as they were (no memoised
    parts, the fields through the include) or as they are; the same process measures both."""
    from django.template import engines
    from django.template.base import Template
    from django.template.loaders.cached import Loader

    engine = engines["django"].engine  # type: ignore[attr-defined]
    [cached] = [loader for loader in engine.template_loaders if isinstance(loader, Loader)]
    for name in (
        "web/base.html",
        "signin/password.html",
        "methods/_code_verify.html",
        "methods/totp/verify.html",
    ):
        cached.get_template_cache.pop(name, None)
        current = cached.get_template(name)
        if plain:
            from vahva.web.templatetags.chrome import plain_source

            with open(current.origin.name, encoding="utf-8") as file:
                source = plain_source(file.read())
            current = Template(source, origin=current.origin, name=name, engine=engine)
            cached.get_template_cache[name] = current


def gets(browser: Any, path: str, renders: int) -> tuple[float, float]:
    """GET ``path`` ``renders`` times; (CPU seconds in all, wall seconds).

    The sign-in page is asked for as a sign-in asks for it (bench/signin.py): by a browser
    without cookies (no session, no CSRF cookie yet); the code page with the attempt's session.
    """
    fresh = path == PAGES["password"]
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(renders):
        if fresh:
            browser.cookies.clear()
        page = browser.get(path)
        if page.status_code != 200:
            raise SystemExit(f"GET {path}: {page.status_code}")
    return time.process_time() - cpu, time.perf_counter() - wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renders", type=int, default=300, help="GETs per page per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best is reported")
    parser.add_argument(
        "--profile", choices=sorted(PAGES), help="then cProfile the GETs of this page"
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="also the pages as they were before {% memoise %} and {% field %} "
        "(chrome.plain_source), interleaved with them in the same process",
    )
    parser.add_argument("--profile-file", help="and write the profile there (pstats)")
    parser.add_argument(
        "--http",
        action="store_true",
        help="then the same GETs over HTTP against `vahva serve` pinned to one core: the "
        "server's CPU per GET, rounds interleaved",
    )
    args = parser.parse_args(argv)
    server_cpu, client_cpu = begin_run()
    with throwaway_vahva() as env:
        from django.test import Client

        from vahva import clock as vahva_clock
        from vahva.clock import FakeClock

        pin(server_cpu)
        fake = FakeClock(dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC))
        vahva_clock.install(fake)
        try:
            [person] = make_people(1, prefix="tmpl", registered_at=fake() - dt.timedelta(hours=1))
            signed_out = Client(enforce_csrf_checks=True)
            browser = Client(enforce_csrf_checks=True)
            password_step(browser, person.email)  # the attempt the code page belongs to
            browsers = {"password": signed_out, "verify": browser}
            best: dict[str, tuple[float, float, float]] = {}
            variants = ["", " plain"] if args.plain else [""]
            with RenderClock() as clock:
                for _round in range(args.rounds):
                    for variant in variants:  # interleaved: the machine moves for both
                        use_plain_templates(bool(variant))
                        for page, path in PAGES.items():
                            gets(browsers[page], path, 20)  # warm: imports, the loaders' caches
                            clock.reset()
                            cpu, wall = gets(browsers[page], path, args.renders)
                            render = clock.cpu[TEMPLATES[page]] / clock.count[TEMPLATES[page]]
                            label = page + variant
                            if label not in best or render < best[label][0]:
                                best[label] = (render, cpu / args.renders, wall)
                use_plain_templates(False)
            rows = []
            for page, (render, request, wall) in sorted(best.items()):
                rows.append(
                    Figures(
                        f"{page} render",
                        count=args.renders,
                        seconds=wall,
                        cpu_seconds=render * args.renders,
                    )
                )
                rows.append(
                    Figures(
                        f"{page} GET",
                        count=args.renders,
                        seconds=wall,
                        cpu_seconds=request * args.renders,
                    )
                )
            print(f"\n{args.renders} GETs per page, best of {args.rounds} rounds; CPU {server_cpu}")
            print_table(rows, Figures("-"))
            print(f"load average at the end: {load_average()}")
            if args.profile:
                profile = cProfile.Profile()
                profile.enable()
                gets(browsers[args.profile], PAGES[args.profile], args.renders)
                profile.disable()
                profile_summary(profile, f"{args.renders} GETs of {PAGES[args.profile]}", 40)
                if args.profile_file:
                    profile.dump_stats(args.profile_file)
        finally:
            vahva_clock.install(None)
        if args.http:
            over_http(env, args, server_cpu, client_cpu)
    pin(None)
    return 0


def over_http(env: dict[str, str], args: Any, server_cpu: Any, client_cpu: Any) -> None:
    """GET each page ``--renders`` times from one browser; the server's CPU per GET."""
    import httpx
    from django.db import connections

    from vahva import clock as vahva_clock

    [person] = make_people(
        1, prefix="tmplhttp", registered_at=vahva_clock.now() - dt.timedelta(hours=1)
    )
    connections.close_all()  # the server gets the SQLite file to itself
    best: dict[str, tuple[float, float]] = {}
    with (
        serving(env, server_cpu, then_pin=client_cpu) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as signed_out,
        httpx.Client(base_url=server.base_url, timeout=30) as browser,
    ):
        password_step(browser, person.email)
        browsers = {"password": signed_out, "verify": browser}
        for _round in range(args.rounds):
            for page, path in PAGES.items():
                gets(browsers[page], path, 20)
                cpu = process_cpu_seconds(server.pid)
                _own, wall = gets(browsers[page], path, args.renders)
                cpu = process_cpu_seconds(server.pid) - cpu
                if page not in best or cpu < best[page][0]:
                    best[page] = (cpu, wall)
    rows = [
        Figures(f"{page} GET, http", count=args.renders, seconds=wall, cpu_seconds=cpu)
        for page, (cpu, wall) in best.items()
    ]
    print(
        f"\nover HTTP: server on CPU {server_cpu}, {args.renders} GETs per page, best of "
        f"{args.rounds} rounds (server CPU from /proc, 10 ms ticks)"
    )
    print_table(rows, Figures("-"))
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    sys.exit(main())
