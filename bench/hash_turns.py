"""What taking turns with argon2id on one core costs: fixed work, three ways (issue 20).

The work: ``--hashes`` argon2id verifications (vahva's parameters) and ``--pages`` renders of
the sign-in page (``GET /signin/`` through the real middleware and view, in-process), on one
core. Done three ways, in rounds, the order of the three rotated every round:

1. one after the other, in one thread: no turns at all (the floor);
2. in two threads, the hash through argon2-cffi, which lets the GIL go while it hashes: the
   page thread runs meanwhile and the core switches between the two;
3. in two threads, the hash holding the GIL (``vahva.accounts.exclusive_argon2``): the page
   thread waits for each hash to end, so the core switches twice per hash.

It prints the process CPU of each and their ratios to the first. The work is the same in all
three, so any difference is what the turns cost: each switch between the hash (which streams
through 19 MiB) and Python leaves the other to run from memory rather than the core's caches.

    .venv/bin/python bench/hash_turns.py [--hashes N] [--pages N] [--rounds N] [--quick]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import threading
import time
from collections.abc import Callable

from _common import PASSWORD, begin_run, load_average, pin, throwaway_vahva

WAYS = ("one after the other", "two threads, argon2-cffi", "two threads, hash holds the GIL")


def run(
    way: str,
    hash_once: Callable[[], object],
    exclusive_once: Callable[[], object],
    page_once: Callable[[], object],
    hashes: int,
    pages: int,
) -> float:
    """Process CPU seconds for the fixed work done ``way``."""

    def hash_all(once: Callable[[], object]) -> None:
        for _ in range(hashes):
            once()

    def pages_all() -> None:
        for _ in range(pages):
            page_once()

    cpu = time.process_time()
    if way == WAYS[0]:
        hash_all(hash_once)
        pages_all()
    else:
        once = hash_once if way == WAYS[1] else exclusive_once
        hasher = threading.Thread(target=hash_all, args=(once,))
        hasher.start()
        pages_all()
        hasher.join()
    return time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hashes", type=int, default=150)
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="5 hashes, 100 pages, 1 round")
    args = parser.parse_args(argv)
    if args.quick:
        args.hashes, args.pages, args.rounds = 5, 100, 1
    if min(args.hashes, args.pages, args.rounds) < 1:
        parser.error("--hashes, --pages and --rounds must be positive")

    server_cpu, _ = begin_run()
    with throwaway_vahva():
        import argon2
        from django.contrib.auth.hashers import get_hasher
        from django.test import Client

        from vahva.accounts import exclusive_argon2

        if not exclusive_argon2.available():
            print("argon2-cffi's library cannot be opened with ctypes here: nothing to compare")
            return 1
        logging.disable(logging.WARNING)  # the page's request lines
        pin(server_cpu)
        hasher = get_hasher()
        encoded = hasher.encode(PASSWORD, hasher.salt()).split("$", 1)[1]
        stored = ("$" + encoded).encode()
        secret = PASSWORD.encode()
        print(
            f"work: {args.hashes} argon2id verifications ({encoded.split('$')[2]}) and "
            f"{args.pages} renders of GET /signin/, on CPU {server_cpu}; {args.rounds} rounds"
        )

        def hash_once() -> object:
            return argon2.PasswordHasher().verify(stored, secret)

        def exclusive_once() -> object:
            return exclusive_argon2.verify(stored, secret)

        browser = Client()

        def page_once() -> object:
            browser.cookies.clear()
            return browser.get("/signin/")

        for _ in range(50):
            page_once()  # imports, the template cache
        figures: dict[str, list[float]] = {way: [] for way in WAYS}
        for number in range(args.rounds):
            order = WAYS[number % 3 :] + WAYS[: number % 3]
            for way in order:
                figures[way].append(
                    run(way, hash_once, exclusive_once, page_once, args.hashes, args.pages)
                )
            print(
                f"round {number + 1}: "
                + ", ".join(f"{way} {figures[way][-1]:.2f} s" for way in WAYS),
                flush=True,
            )
        floor = statistics.median(figures[WAYS[0]])
        print(f"\nload average: {load_average()}")
        print(f"{'way':34s} {'median CPU s':>12s} {'to the floor':>12s}")
        for way in WAYS:
            middle = statistics.median(figures[way])
            print(f"{way:34s} {middle:12.2f} {middle / floor:12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
