"""Demo Learn (demo/learn, the SAML service `make run` starts on :8002) signs Bob in through a
live vahva, as `vahva demo` connects it, and shows who signed in and how."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from demo.learn.app import Config, create_app
from django.core.management import call_command
from django.test import Client
from starlette.testclient import TestClient

from vahva.clock import FakeClock

from .conftest import Person
from .saml_browser import sign_in_to_saml

LEARN = "http://localhost:8002"


@pytest.mark.django_db(transaction=True)
def test_demo_learn_signs_bob_in_with_mfa_and_shows_how(
    live_server: Any, bob: Person, clock: FakeClock, settings: Any, tmp_path: Path
) -> None:
    settings.VAHVA = {**settings.VAHVA, "PUBLIC_URL": live_server.url}
    settings.DATA_DIR = tmp_path
    call_command("demo", quiet=True)
    written = json.loads((tmp_path / "demo-learn.json").read_text())
    assert written["idp_metadata_url"] == f"{live_server.url}/saml/metadata"
    assert written["base_url"] == LEARN

    # vahva's first /saml/metadata makes its key and signs with xmlsec1: done here, so Demo
    # Learn's own fetch (5 s timeout) meets the cached copy even on a loaded machine.
    assert Client().get("/saml/metadata").status_code == 200
    learn = TestClient(create_app(Config(**written)), base_url=LEARN)
    assert "Sign in with" in learn.get("/").text
    to_vahva = learn.get("/login", follow_redirects=False)
    assert to_vahva.status_code == 302
    with httpx.Client(timeout=15) as browser:
        posted = sign_in_to_saml(
            browser, to_vahva.headers["location"], person=bob, clock=clock, expect_mfa=True
        )
    assert posted.action == f"{LEARN}/saml/acs"
    back = learn.post("/saml/acs", data=posted.fields, follow_redirects=False)
    assert back.status_code == 303, back.text
    page = learn.get("/").text
    assert "Welcome to your courses" in page
    assert bob.email in page
    assert "Bob Berg" in page
    assert "multi-factor: two independent proofs" in page
    assert "https://refeds.org/profile/mfa" in page
    # A Response posted again (a replay from the browser's history) is not accepted.
    replayed = learn.post("/saml/acs", data=posted.fields, follow_redirects=False)
    assert replayed.status_code == 403
