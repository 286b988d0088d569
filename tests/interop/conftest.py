"""Real client libraries against a live vahva: Authlib, panva's openid-client, the Mail demo.

The live server runs in this process, so the clock a test installs is the server's clock.
Here it stands at the real time: the toolkit stamps ``iat``/``exp`` with the system clock,
vahva stamps ``auth_time`` with its own, and the libraries compare both with theirs.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import html
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pyotp
import pytest

from vahva import clock as vahva_clock
from vahva.clock import FakeClock

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHOTS = REPO / "test-results" / "interop"
BOB = "bob@demo.example"
BOB_PASSWORD = "bob-demo-pass"
BOB_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    """A clock that stands still at the real time (whole seconds) until the test moves it."""
    fake = FakeClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    vahva_clock.install(fake)
    yield fake
    vahva_clock.install(None)


@dataclass(frozen=True)
class Person:
    user: Any
    email: str
    password: str
    secret: str

    def code(self, clock: FakeClock) -> str:
        """The code Bob's authenticator app shows at the server's time."""
        return str(pyotp.TOTP(self.secret).at(clock()))


@pytest.fixture
def bob(transactional_db: Any, clock: FakeClock) -> Person:
    """The demo's Bob: an authenticator app registered an hour ago, so MFA applies."""
    from vahva.accounts.models import User
    from vahva.methods import service

    user = User.objects.create_user(BOB, BOB_PASSWORD, full_name="Bob Berg")
    service.save_new(
        user, "totp", now=clock() - dt.timedelta(hours=1), secret=BOB_SECRET, name="Phone"
    )
    return Person(user, BOB, BOB_PASSWORD, BOB_SECRET)


def _form_value(page: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*\bvalue="([^"]*)"', page)
    assert match, f"no {name} field in the page"
    return html.unescape(match.group(1))


def sign_in_over_http(
    authorization_url: str, *, redirect_uri: str, person: Person, clock: FakeClock
) -> str:
    """Be the browser: open ``authorization_url``, fill in vahva's sign-in forms as a person
    would (password, then the authenticator code), and return the URL vahva finally sends
    the browser to, which starts with ``redirect_uri`` (the client's callback)."""
    with httpx.Client(timeout=10) as browser:
        response = browser.get(authorization_url)
        assert response.status_code == 302, response.text[:300]
        signin_url = urljoin(authorization_url, response.headers["location"])
        assert "/signin/" in signin_url, signin_url

        page = browser.get(signin_url)
        assert "to continue to" in page.text
        response = browser.post(
            signin_url,
            data={
                "csrfmiddlewaretoken": _form_value(page.text, "csrfmiddlewaretoken"),
                "email": person.email,
                "password": person.password,
                "next": _form_value(page.text, "next"),
            },
        )
        assert response.status_code == 302, response.text[:300]
        verify_url = urljoin(signin_url, response.headers["location"])
        assert verify_url.endswith("/signin/verify/"), "MFA was not asked"

        page = browser.get(verify_url)
        response = browser.post(
            verify_url,
            data={
                "csrfmiddlewaretoken": _form_value(page.text, "csrfmiddlewaretoken"),
                "code": person.code(clock),
            },
        )
        # Back through vahva's pages to the authorization request, which now sends the
        # browser to the client.
        location: str = urljoin(verify_url, response.headers.get("location", ""))
        for _hop in range(5):
            if location.startswith(redirect_uri):
                return location
            assert response.status_code == 302, response.text[:300]
            response = browser.get(location)
            location = urljoin(location, response.headers.get("location", ""))
        raise AssertionError(f"never sent back to {redirect_uri}: {location}")


def free_port() -> int:
    from tests.redis_server import free_port as worker_free_port  # this xdist worker's share

    return worker_free_port()


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """tests/interop/node_modules with openid-client, installed from package-lock.json."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are not installed (apt-get install nodejs npm)")
    modules = HERE / "node_modules"
    # pytest-xdist's workers share this folder: one installs while the others wait (npm ci
    # starts by deleting node_modules, under a worker that may be using it). The lock is
    # on package-lock.json, which npm ci reads and never writes.
    with (HERE / "package-lock.json").open("rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (modules / "openid-client" / "package.json").exists():
            installed = subprocess.run(
                [npm, "ci", "--prefer-offline", "--no-audit", "--no-fund"],
                cwd=HERE,
                timeout=300,
                capture_output=True,
                text=True,
                check=False,
            )
            if installed.returncode != 0:
                pytest.fail(f"npm ci in {HERE} failed:\n{installed.stderr}")
    return modules
