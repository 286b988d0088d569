"""Security keys and passkeys in Chromium, with its built-in virtual authenticator (CDP): add
one, sign in with it as the second factor, sign in with a passkey and no password, and a
service that accepts only phishing-resistant MFA refusing an authenticator-app code.

The live server is reached as http://localhost:PORT and PUBLIC_URL points at it: WebAuthn's
RP ID is the host ("localhost"), and the browser refuses it from 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from playwright.sync_api import CDPSession, Page, Route, expect

from tests.e2e.conftest import ALICE, BrowserProblems, oathtool, sign_in
from tests.oidc.helpers import authorize_url, exchange, id_token_claims
from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.methods.models import RegisteredMethod
from vahva.oidc import clients
from vahva.oidc.claims import ACR_PHR

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SERVICE = "http://localhost:8001"


@pytest.fixture
def public_url(settings: Any, live_server: Any) -> str:
    """RP ID and origin come from PUBLIC_URL: point it at the live server."""
    settings.VAHVA = {**settings.VAHVA, "PUBLIC_URL": live_server.url}
    return str(live_server.url)


@pytest.fixture
def authenticator(page: Page) -> Iterator[tuple[CDPSession, str]]:
    """A platform authenticator with user verification (a laptop's fingerprint reader)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    found = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    yield cdp, found["authenticatorId"]
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": found["authenticatorId"]})


@pytest.fixture
def passkey_signin(settings: Any) -> None:
    settings.VAHVA = {**settings.VAHVA, "PASSKEY_SIGNIN": True}


def _sign_in_with_code(page: Page, base: str, secret: str, clock: FakeClock) -> None:
    sign_in(page, base)
    page.get_by_label("Code", exact=True).fill(oathtool(secret, clock()))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()


def _add_key(page: Page, base: str, name: str) -> None:
    page.goto(base + "/security-info/")
    page.get_by_role("link", name="Add method").click()
    page.get_by_label("Which method would you like to add?").select_option(
        label="Security key or passkey"
    )
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("heading", name="Security key or passkey")).to_be_visible()
    page.get_by_label("Name (optional)").fill(name)
    page.get_by_role("button", name="Add security key or passkey").click()
    expect(page.get_by_text(f"Security key or passkey ({name}) was added.")).to_be_visible()


def _sign_out(page: Page) -> None:
    page.locator("header").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()


def _credentials(authenticator: tuple[CDPSession, str]) -> list[dict[str, Any]]:
    cdp, auth_id = authenticator
    return list(cdp.send("WebAuthn.getCredentials", {"authenticatorId": auth_id})["credentials"])


def test_alice_adds_a_security_key_and_signs_in_with_it(
    public_url: str,
    page: Page,
    clock: FakeClock,
    alice_totp: tuple[Any, str],
    authenticator: tuple[CDPSession, str],
    problems: BrowserProblems,
    shot: Callable[[Page, str], Path],
) -> None:
    _method, secret = alice_totp
    _sign_in_with_code(page, public_url, secret, clock)
    _add_key(page, public_url, "Laptop fingerprint")
    row = page.locator("#methods tbody tr").filter(has_text="Security key or passkey")
    expect(row).to_contain_text("Laptop fingerprint")
    expect(row).to_contain_text("Not yet")
    expect(row.get_by_role("link", name="Remove")).to_be_visible()
    shot(page, "passkey-1-added")
    assert len(_credentials(authenticator)) == 1

    # Her new key becomes the default; next time it is what the sign-in asks for.
    page.get_by_label("Default sign-in method").select_option(
        label="Security key or passkey (Laptop fingerprint)"
    )
    page.locator("form.default-method").get_by_role("button", name="Change").click()
    expect(page.get_by_text("Your default sign-in method was changed.")).to_be_visible()
    _sign_out(page)
    clock.advance(60)
    sign_in(page, public_url)
    expect(
        page.get_by_text("Use your security key or passkey (Laptop fingerprint)")
    ).to_be_visible()
    shot(page, "passkey-2-asked")
    page.get_by_role("button", name="Use security key or passkey").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    expect(row).not_to_contain_text("Not yet")
    latest = page.locator("#signins tbody tr").first
    expect(latest).to_contain_text("Signed in")
    expect(latest).to_contain_text("Security key or passkey")
    event = AuditEvent.objects.filter(action="signin.success").latest("id")
    assert event.data["amr"] == ["hwk", "mfa", "pwd", "user"]
    assert _credentials(authenticator)[0]["signCount"] >= 1
    problems.assert_none()


def test_a_passkey_signs_alice_in_without_her_password(
    passkey_signin: None,
    public_url: str,
    page: Page,
    clock: FakeClock,
    alice_totp: tuple[Any, str],
    authenticator: tuple[CDPSession, str],
    problems: BrowserProblems,
    shot: Callable[[Page, str], Path],
) -> None:
    _method, secret = alice_totp
    _sign_in_with_code(page, public_url, secret, clock)
    _add_key(page, public_url, "Laptop")
    # Passwordless sign-in is on: the key was made a discoverable credential (a passkey).
    assert _credentials(authenticator)[0]["isResidentCredential"]
    _sign_out(page)

    page.goto(public_url + "/signin/")
    button = page.get_by_role("button", name="Sign in with a passkey")
    expect(button).to_be_visible()
    shot(page, "passkey-3-password-page")
    # Her fingerprint is not recognised this time: the browser says no, the page says why.
    cdp, auth_id = authenticator
    cdp.send("WebAuthn.setUserVerified", {"authenticatorId": auth_id, "isUserVerified": False})
    button.click()
    expect(page.get_by_role("alert")).to_contain_text("closed or timed out")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()

    cdp.send("WebAuthn.setUserVerified", {"authenticatorId": auth_id, "isUserVerified": True})
    button.click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    expect(page.locator("#signins tbody tr").first).to_contain_text("Security key or passkey")
    event = AuditEvent.objects.filter(action="signin.success").latest("id")
    assert event.subject_email == ALICE
    # No password typed: no "pwd"; the passkey verified her, so it counts as multi-factor.
    assert event.data["amr"] == ["hwk", "mfa", "user"]
    assert AuditEvent.objects.filter(action="signin.passkey", outcome="ok").count() == 1
    problems.assert_none()


def test_a_service_that_demands_phishing_resistant_mfa_refuses_the_app_code(
    public_url: str,
    page: Page,
    clock: FakeClock,
    alice_totp: tuple[Any, str],
    authenticator: tuple[CDPSession, str],
    problems: BrowserProblems,
    shot: Callable[[Page, str], Path],
) -> None:
    totp, secret = alice_totp
    _sign_in_with_code(page, public_url, secret, clock)
    _add_key(page, public_url, "YubiKey")
    _sign_out(page)
    payroll = clients.add(
        name="Payroll",
        redirect_uris=[f"{SERVICE}/callback"],
        mfa_rule="phishing_resistant",
    )
    arrived: list[str] = []

    def service(route: Route) -> None:
        arrived.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>Payroll</h1>")

    page.route(f"{SERVICE}/**", service)

    page.goto(public_url + authorize_url(payroll.client_id))
    expect(page.get_by_text("to continue to Payroll")).to_be_visible()
    page.get_by_label("E-mail address").fill(ALICE)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in", exact=True).click()
    # Her default is the app code, but Payroll accepts only the key: the key is asked.
    expect(page.get_by_text("Use your security key or passkey (YubiKey)")).to_be_visible()
    expect(page.get_by_label("Code", exact=True)).to_have_count(0)

    # She asks for the app code anyway: refused, and only the key is offered.
    page.goto(f"{public_url}/signin/verify/?method={totp.pk}")
    expect(page.get_by_role("alert")).to_contain_text(
        "Payroll accepts only a security key or passkey"
    )
    choices = page.locator("ul.choices li")
    expect(choices).to_have_count(1)
    expect(choices).to_contain_text("Security key or passkey (YubiKey)")
    shot(page, "passkey-4-refused")
    choices.get_by_role("link").click()
    page.get_by_role("button", name="Use security key or passkey").click()
    expect(page.get_by_role("heading", name="Payroll")).to_be_visible()

    query = parse_qs(urlsplit(arrived[-1]).query)
    tokens = exchange(Client(), payroll, query["code"][0]).json()
    token = id_token_claims(Client(), tokens["id_token"])
    assert token["acr"] == ACR_PHR
    assert sorted(token["amr"]) == ["hwk", "mfa", "pwd", "user"]
    problems.assert_none(expected_status_at={"/signin/verify/": 403})


_OLDER_BROWSER = """
delete PublicKeyCredential.parseCreationOptionsFromJSON;
delete PublicKeyCredential.parseRequestOptionsFromJSON;
delete PublicKeyCredential.prototype.toJSON;
"""


def test_a_browser_without_the_json_helpers_works_too(
    public_url: str,
    page: Page,
    clock: FakeClock,
    alice_totp: tuple[Any, str],
    authenticator: tuple[CDPSession, str],
    problems: BrowserProblems,
) -> None:
    # Browsers before WebAuthn Level 3's JSON helpers: webauthn.js converts by hand.
    page.add_init_script(_OLDER_BROWSER)
    _method, secret = alice_totp
    _sign_in_with_code(page, public_url, secret, clock)
    assert page.evaluate("typeof PublicKeyCredential.parseRequestOptionsFromJSON") == "undefined"
    _add_key(page, public_url, "Old laptop")
    registered = RegisteredMethod.objects.get(kind="webauthn")
    _sign_out(page)
    clock.advance(60)
    sign_in(page, public_url)
    page.goto(f"{public_url}/signin/verify/?method={registered.pk}")
    page.get_by_role("button", name="Use security key or passkey").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    event = AuditEvent.objects.filter(action="signin.success").latest("id")
    assert event.data["method"] == "webauthn"
    problems.assert_none()
