"""Browser tests: Debian's Chromium, driven by pytest-playwright, against Django's live server.

The live server runs in this process, so the FakeClock a test installs (``clock`` from
tests/conftest.py) is the clock the server uses: tests move time instead of sleeping, and
``oathtool --now`` computes the code for that same moment.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

E2E = Path(__file__).resolve().parent
SHOTS = E2E.parents[1] / "test-results" / "e2e"
ALICE = "alice@example.org"
PASSWORD = "correct horse battery"


@dataclass
class BrowserProblems:
    """Console errors, uncaught exceptions and CSP violations seen by every page of a test."""

    console: list[tuple[str, str]] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)

    def assert_none(self, *, expected_status_at: dict[str, int] | None = None) -> None:
        """Fail on any problem, except the 4xx a test provoked on purpose.

        ``expected_status_at`` maps a path to the status the test caused there (a wrong code
        is answered with 400, and Chromium logs that as a failed resource load).
        """
        allowed = expected_status_at or {}
        unexpected = [
            f"{text} (at {url})"
            for text, url in self.console
            if not any(
                urlsplit(url).path == path and f"status of {status} " in text
                for path, status in allowed.items()
            )
        ]
        assert unexpected == [], "console errors"
        assert self.exceptions == [], "uncaught exceptions"
        assert self.csp == [], "Content-Security-Policy violations"


_REPORT_CSP = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__vahvaCsp(`${event.violatedDirective} blocked ${event.blockedURI} ` +
                    `on ${event.documentURI} (${event.sourceFile}:${event.lineNumber})`);
});
"""


@pytest.fixture
def problems(context: BrowserContext) -> BrowserProblems:
    seen = BrowserProblems()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            seen.console.append((message.text, str(message.location.get("url", ""))))

    context.on("console", on_console)
    context.on("weberror", lambda error: seen.exceptions.append(str(error.error)))
    context.expose_binding("__vahvaCsp", lambda _source, report: seen.csp.append(report))
    context.add_init_script(_REPORT_CSP)
    return seen


@pytest.fixture
def page(context: BrowserContext, problems: BrowserProblems) -> Page:
    """pytest-playwright's page, opened after the problem listeners are in place."""
    return context.new_page()


@pytest.fixture
def shot() -> Callable[[Page, str], Path]:
    """Save a full-page screenshot under test-results/e2e/ (gitignored) for a human to see."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> Path:
        path = SHOTS / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take


def decode_qr(page: Page, name: str, image: str = "QR code for your authenticator app") -> str:
    """Screenshot the QR code (the img named ``image``) and read it as a phone camera would."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.get_by_role("img", name=image).screenshot(path=path)
    result = subprocess.run(
        ["/usr/bin/zbarimg", "-q", "--raw", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, f"zbarimg found no QR code in {path}: {result.stderr}"
    return result.stdout.strip()


@dataclass(frozen=True)
class Otpauth:
    label: str
    secret: str
    issuer: str


def parse_otpauth(uri: str) -> Otpauth:
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp"), uri
    query = parse_qs(parts.query)
    return Otpauth(unquote(parts.path.lstrip("/")), query["secret"][0], query["issuer"][0])


def oathtool(secret: str, moment: dt.datetime) -> str:
    """The code an independent RFC 6238 implementation shows at ``moment`` (the FakeClock's)."""
    when = moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    result = subprocess.run(
        ["/usr/bin/oathtool", "--totp", "-b", "--now", when, secret],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    code = result.stdout.strip()
    assert re.fullmatch(r"\d{6}", code), code
    return code


def sign_in(page: Page, base_url: str, email: str = ALICE, password: str = PASSWORD) -> None:
    """Open the site and give e-mail and password, as a person would."""
    page.goto(base_url + "/")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def assert_every_control_labelled(page: Page) -> None:
    """Every visible input and select has an accessible name (a screen reader can say it)."""
    controls = page.locator("input:not([type=hidden]), select, textarea")
    expect(controls.first).to_be_attached()
    for index in range(controls.count()):
        control = controls.nth(index)
        if control.is_visible():
            expect(control).to_have_accessible_name(re.compile(r"\S"))


def page_widths(page: Page) -> tuple[int, int]:
    """(scrollWidth, clientWidth) of the document: wider content means a horizontal scroll."""
    width, client = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    return int(width), int(client)
