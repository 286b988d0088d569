"""The demo relying party "Mail" (demo/mail) with a real browser against a live vahva.

Mail runs as its own process, started the way demo/README.md says (``python -m demo.mail``),
with a configuration file pointing at the live server; Bob uses Debian's Chromium.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from demo.mail.app import Config, create_app
from playwright.sync_api import ConsoleMessage, Page, Request, expect
from starlette.testclient import TestClient

from vahva.clock import FakeClock
from vahva.oidc import clients

from .conftest import REPO, SHOTS, Person, free_port

STARTUP_SECONDS = 20


def wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Return once ``port`` accepts connections; fail if the process exits or time runs out."""
    for _attempt in range(STARTUP_SECONDS * 20):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            pass
        try:
            # Paces the polling and notices a crash at once.
            process.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
        break
    raise AssertionError(f"Demo Mail did not start:\n{log.read_text()}")


@pytest.fixture
def mail_demo(live_server: Any, transactional_db: Any, tmp_path: Path) -> Iterator[str]:
    """Demo Mail on a free loopback port, connected to the live vahva; yields its base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    service = clients.add(
        name="Mail",
        redirect_uris=[f"{base_url}/callback"],
        post_logout_redirect_uris=[f"{base_url}/"],
    )
    config = tmp_path / "demo-mail.json"
    config.write_text(
        json.dumps(
            {
                "issuer": f"{live_server.url}/o",
                "client_id": service.client_id,
                "client_secret": service.client_secret,
                "base_url": base_url,
                "organisation_name": "Demo University",
            }
        )
    )
    log = tmp_path / "mail.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "demo.mail"],
            cwd=REPO,
            env={**os.environ, "MAIL_DEMO_CONFIG": str(config)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(process, port, log)
        yield base_url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    written = log.read_text()
    assert "Traceback" not in written, written
    assert '" 500' not in written, written


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_bob_signs_in_to_mail_with_a_code_sees_how_and_signs_out_of_both(
    live_server: Any, mail_demo: str, bob: Person, clock: FakeClock, page: Page
) -> None:
    hosts: set[str] = set()
    console_errors: list[str] = []

    def note_host(request: Request) -> None:
        hosts.add(urlsplit(request.url).hostname or request.url)

    def note_error(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(f"{message.text} ({message.location.get('url')})")

    page.on("request", note_host)
    page.on("console", note_error)
    SHOTS.mkdir(parents=True, exist_ok=True)

    # Mail knows no passwords: it sends Bob to vahva.
    page.goto(mail_demo + "/")
    expect(page.get_by_role("heading", name="Demo Mail")).to_be_visible()
    page.screenshot(path=SHOTS / "mail-1-signed-out.png", full_page=True)
    page.get_by_role("link", name="Sign in with Demo University").click()

    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_text("to continue to Mail")).to_be_visible()
    page.get_by_label("E-mail address").fill(bob.email)
    page.get_by_label("Password").fill(bob.password)
    page.get_by_role("button", name="Sign in", exact=True).click()

    expect(page.get_by_role("heading", name="Verify your identity")).to_be_visible()
    page.get_by_label("Code").fill(bob.code(clock))
    page.get_by_role("button", name="Verify").click()

    # Back in Mail, which says who he is and how he proved it.
    expect(page.get_by_role("heading", name="Hello, Bob Berg")).to_be_visible()
    assert page.url.startswith(mail_demo)
    how = page.locator("#how")
    expect(how.get_by_role("heading", name="How you signed in")).to_be_visible()
    expect(how).to_contain_text("pwd password")
    expect(how).to_contain_text("otp one-time code")
    expect(how).to_contain_text("mfa more than one factor")
    expect(how).to_contain_text("https://refeds.org/profile/mfa, multi-factor")
    moment = clock()
    expect(how).to_contain_text(f"{moment:%A} {moment.day} {moment:%B %Y at %H:%M:%S} UTC")
    how.get_by_text("All claims of the ID token").click()
    raw = json.loads(how.locator("pre").inner_text())
    assert raw["sub"] == str(bob.user.public_id)
    assert raw["email"] == "bob@demo.example"
    assert sorted(raw["amr"]) == ["mfa", "otp", "pwd"]
    assert raw["auth_time"] == int(moment.timestamp())
    page.screenshot(path=SHOTS / "mail-2-inbox.png", full_page=True)

    # Signing out of Mail signs him out of vahva too (RP-initiated logout), no questions.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text(
        "You have signed out of Mail and of Demo University."
    )
    assert page.url.startswith(mail_demo)
    page.screenshot(path=SHOTS / "mail-3-signed-out.png", full_page=True)
    page.goto(live_server.url + "/security-info/")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/signin/"))

    # Nothing came from anywhere but the two loopback servers (no CDN, no fonts), and no
    # page of either complained (CSP violations, failed loads).
    assert hosts <= {"127.0.0.1", "localhost"}, hosts
    assert console_errors == []


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_alice_without_a_method_signs_in_to_mail_with_her_password(
    live_server: Any, mail_demo: str, clock: FakeClock, page: Page, make_user: Any
) -> None:
    # No method yet, so the policy lets her in with the password and offers the wizard first.
    make_user(email="alice@demo.example", password="alice-demo-pass", full_name="Alice Aalto")
    page.goto(mail_demo + "/")
    page.get_by_role("link", name="Sign in with Demo University").click()
    page.get_by_label("E-mail address").fill("alice@demo.example")
    page.get_by_label("Password").fill("alice-demo-pass")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("button", name="Not now (ask me again in 1 day)").click()

    expect(page.get_by_role("heading", name="Hello, Alice Aalto")).to_be_visible()
    how = page.locator("#how")
    expect(how.locator(".amr li")).to_have_text(["pwd password"])
    expect(how).to_contain_text("https://refeds.org/profile/sfa, single factor")
    page.screenshot(path=SHOTS / "mail-4-alice-password-only.png", full_page=True)


@pytest.fixture
def mail_alone() -> Iterator[TestClient]:
    """Demo Mail in-process, its provider address pointing at a closed loopback port."""
    config = Config(
        issuer=f"http://127.0.0.1:{free_port()}/o",
        client_id="mail-demo",
        client_secret="not-used",
        base_url="http://127.0.0.1:8001",
        organisation="Demo University",
    )
    with TestClient(create_app(config), base_url=config.base_url) as client:
        yield client


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("error=access_denied&state=s", "The sign-in was cancelled or refused"),
        ("error=login_required&state=s", "You are not signed in at Demo University"),
        ("error=server_error", "Signing in to Mail did not work."),
        ("code=abc&state=never-issued", "started in another tab or browser"),
        ("", "started in another tab or browser"),
        ("error=%3Cscript%3Ex%3C%2Fscript%3E", "Signing in to Mail did not work."),
    ],
)
def test_mail_explains_a_failed_sign_in(mail_alone: TestClient, query: str, says: str) -> None:
    response = mail_alone.get(f"/callback?{query}")
    assert response.status_code == 400
    assert says in response.text
    assert "<script>" not in response.text
    assert 'href="/login"' in response.text


def test_mail_says_when_the_sign_in_service_cannot_be_reached(mail_alone: TestClient) -> None:
    response = mail_alone.get("/login", follow_redirects=False)
    assert response.status_code == 502
    assert "cannot reach the sign-in service of Demo University" in response.text


def test_mail_signed_out_page_loads_nothing_from_elsewhere(mail_alone: TestClient) -> None:
    page = mail_alone.get("/")
    assert page.status_code == 200
    assert "Sign in with Demo University" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.text)
    assert mail_alone.post("/logout", follow_redirects=False).headers["location"] == "/"
