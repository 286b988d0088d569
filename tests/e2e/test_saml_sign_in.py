"""SAML in a real browser: Demo Learn (demo/learn, a python3-saml service) sends Chromium to
vahva with an AuthnRequest; Alice signs in with her password and her authenticator app, and
vahva's auto-posting page (its script, under vahva's Content-Security-Policy) carries the
signed Response to the service, which shows who signed in and how."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from demo.learn.app import Config, create_app, sp_metadata
from django.test import Client
from playwright.sync_api import Page, expect

from tests.e2e.conftest import BrowserProblems
from tests.helpers import code_for
from tests.redis_server import free_port
from vahva.clock import FakeClock
from vahva.saml import providers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class Served(uvicorn.Server):
    """Demo Learn on loopback in a thread of the test process."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.up = threading.Event()

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        self.up.set()


@pytest.fixture
def learn(live_server: Any, settings: Any) -> Iterator[str]:
    """Demo Learn on a free port, registered with vahva from its own metadata."""
    settings.VAHVA = {**settings.VAHVA, "PUBLIC_URL": live_server.url}
    port = free_port()
    base = f"http://localhost:{port}"
    providers.add(metadata=sp_metadata(base).encode(), name="Demo Learn")
    # vahva's first /saml/metadata makes its key and signs with xmlsec1: done here, so Demo
    # Learn's own fetch (5 s timeout) meets the cached copy even on a loaded machine.
    assert Client().get("/saml/metadata").status_code == 200
    app = create_app(Config(idp_metadata_url=f"{live_server.url}/saml/metadata", base_url=base))
    server = Served(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert server.up.wait(timeout=30), "Demo Learn did not start"
    yield base
    server.should_exit = True
    thread.join(timeout=30)


def test_alice_signs_in_to_a_saml_service_with_her_app(
    learn: str,
    live_server: Any,
    page: Page,
    clock: FakeClock,
    alice_totp: tuple[Any, str],
    problems: BrowserProblems,
    shot: Callable[[Page, str], Path],
) -> None:
    _method, secret = alice_totp
    # The service stamps its AuthnRequest with the real time, which vahva checks the age of.
    clock.advance((dt.datetime.now(dt.UTC) - clock()).total_seconds())
    page.goto(learn + "/")
    page.get_by_role("link", name="Sign in with").click()

    # At vahva: the service is named, then the password and the second factor.
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_text("Demo Learn")).to_be_visible()
    page.get_by_label("E-mail address").fill("alice@example.org")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_label("Code", exact=True).fill(code_for(secret, clock))
    page.get_by_role("button", name="Verify").click()

    # The signed Response reaches the service by itself (vahva's script posts the form).
    expect(page.get_by_text("Welcome to your courses")).to_be_visible()
    expect(page.get_by_text("alice@example.org").first).to_be_visible()
    expect(page.get_by_text("https://refeds.org/profile/mfa").first).to_be_visible()
    shot(page, "saml-1-signed-in")
    # Demo Learn has no icon: the browser's request for one is its only 404.
    problems.assert_none(expected_status_at={"/favicon.ico": 404})
