"""How every browser test starts Chromium and keeps Django's async guard for the others.

Browser tests are the ones marked ``e2e``. Once Playwright starts, its event loop counts as
running in the test thread until the end of the session, and Django refuses the ORM there
(SynchronousOnlyOperation) unless DJANGO_ALLOW_ASYNC_UNSAFE is set. So the browser tests run
after all the others, with the variable set only while each of them runs: the guard stays on
for the rest of the suite, where it catches an ORM call that would block an async view.

Under pytest-xdist (``make test`` runs ``-n``) this holds in each worker too: ``--dist
loadgroup`` hands out the tests in this collection order, so each worker gets its browser
tests after its others, as long as no browser test is in a group (a group of several tests
is handed out first: tests/conftest.py's ONE_WORKER_MODULES, or an ``xdist_group``; checked
below).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium, headless, with nothing that calls home (the network is loopback only).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def is_browser_test(item: pytest.Item) -> bool:
    return item.get_closest_marker("e2e") is not None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=is_browser_test)  # stable: the order within each group is kept


def pytest_runtest_setup(item: pytest.Item) -> None:
    from tests.conftest import ONE_WORKER_MODULES

    grouped = item.get_closest_marker("xdist_group") is not None or (
        item.nodeid.split("::", 1)[0] in ONE_WORKER_MODULES
    )
    if is_browser_test(item) and grouped:
        pytest.fail(
            "a browser test must not be in a group of tests run on one worker: --dist "
            "loadgroup hands groups out first, and the worker would run its other tests "
            "after Playwright started",
            pytrace=False,
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """Allow the ORM beside Playwright's loop in browser tests (creating people, flushing the
    database after a test, and destroying it after the last one)."""
    if not is_browser_test(item):
        return (yield)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        return (yield)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    for tool in (CHROMIUM, "/usr/bin/zbarimg", "/usr/bin/oathtool"):
        if not os.access(tool, os.X_OK):
            pytest.fail(f"{tool} is missing: apt-get install chromium zbar-tools oathtool")
    # Never a downloaded browser (`playwright install` is not used anywhere).
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}
