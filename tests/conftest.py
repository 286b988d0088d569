"""Fixtures shared by the whole suite: a movable clock, people, TOTP codes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from django.utils import translation

from vahva import clock as vahva_clock
from vahva.clock import FakeClock

pytest_plugins = ["tests.browser"]

#: Modules whose tests share servers started once for the module (a module-scoped fixture),
#: and may build on what the tests before them did: under pytest-xdist (``make test`` runs
#: ``-n … --dist loadgroup``) one worker runs each of them whole, rather than every worker
#: starting its own set for a part of the module. Not for browser tests (see tests/browser.py).
ONE_WORKER_MODULES = frozenset(
    {
        "tests/interop/test_radius_freeradius.py",
        "tests/test_make_run.py",
        "tests/test_production.py",
        "tests/test_two_nodes.py",
    }
)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` that also keeps each of ONE_WORKER_MODULES on one worker.

    xdist's own grouping (the ``xdist_group`` mark) does nothing on pytest 9.2: it renames
    the test's node id, which pytest no longer lets a plugin change (pytest-xdist#1386), and
    the tests are then spread as if unmarked. This decides by the module's path instead.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ModuleGroupScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER_MODULES else super()._split_scope(nodeid)

    return ModuleGroupScheduling(config, log)


@pytest.fixture(autouse=True)
def _deployment_language() -> Iterator[None]:
    """Each test ends in the deployment's language. django.test.Client runs a request in the
    test's own thread and context, where LocaleMiddleware's activation of the page's language
    outlives the request (under ``vahva serve`` each request has a context of its own): a
    test that asked for a Finnish page left Finnish active for the next test in the same
    worker, whose texts sent outside a request then came out in Finnish."""
    yield
    translation.deactivate()


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    """Install a clock that only moves when the test says so."""
    fake = FakeClock(dt.datetime(2026, 3, 2, 8, 0, 0, tzinfo=dt.UTC))
    vahva_clock.install(fake)
    yield fake
    vahva_clock.install(None)


@pytest.fixture
def make_user(db: Any) -> Any:
    from vahva.accounts.models import User

    def make(
        email: str = "alice@example.org", password: str = "correct horse battery", **extra: Any
    ) -> User:
        return User.objects.create_user(
            email, password, full_name=extra.pop("full_name", "Alice"), **extra
        )

    return make


@pytest.fixture
def alice(make_user: Any) -> Any:
    return make_user()


def totp_code(secret: str, moment: dt.datetime) -> str:
    return pyotp.TOTP(secret).at(moment)


@pytest.fixture
def alice_totp(alice: Any, clock: FakeClock) -> tuple[Any, str]:
    """Alice with an authenticator app registered an hour ago; returns (method, secret)."""
    from vahva.methods import service
    from vahva.methods.totp import generate_secret

    secret = generate_secret()
    method = service.save_new(alice, "totp", now=clock() - dt.timedelta(hours=1), secret=secret)
    return method, secret


@pytest.fixture
def admin_client(db: Any, admin_user: Any) -> Any:
    """pytest-django's admin browser, signed in with a second factor as staff must be."""
    from django.test import Client

    from tests.helpers import force_mfa_login

    client = Client()
    force_mfa_login(client, admin_user)
    return client
