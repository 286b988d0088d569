"""Adding a security key or passkey on Security info: the page, the proof, and bad answers."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.helpers import code_for, sign_in_password, text
from tests.methods.soft_authenticator import SoftAuthenticator
from tests.signin.test_passkeys import options_on
from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.methods.models import RegisteredMethod
from vahva.methods.webauthn.models import WebAuthnCredential

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(alice_totp: tuple[Any, str], client: Client, clock: FakeClock) -> Client:
    _method, secret = alice_totp
    assert sign_in_password(client)["Location"] == "/signin/verify/"
    assert client.post("/signin/verify/", {"code": code_for(secret, clock)}).status_code == 302
    return client


def test_add_method_offers_keys_and_codes(signed_in: Client) -> None:
    page = text(signed_in.get("/security-info/add/"))
    assert "Security key or passkey" in page
    assert "Recovery codes" in page


def test_adding_a_security_key_with_a_name(signed_in: Client, clock: FakeClock) -> None:
    page = signed_in.get("/security-info/add/webauthn/")
    assert page.status_code == 200
    body = text(page)
    assert "Add security key or passkey" in body
    assert 'data-webauthn="create"' in body
    # No inline script: the options are JSON data, the ceremony a static file.
    assert "methods/webauthn.js" in body
    options = options_on(page)
    key = SoftAuthenticator()
    response = signed_in.post(
        "/security-info/add/webauthn/", {"code": key.create(options), "name": "YubiKey"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/security-info/"
    info = text(signed_in.get("/security-info/"))
    assert "Security key or passkey (YubiKey) was added." in info
    saved = RegisteredMethod.objects.get(kind="webauthn")
    assert WebAuthnCredential.objects.get(registered=saved).transports == ["usb"]
    assert AuditEvent.objects.filter(action="method.added", data__method="webauthn").exists()
    # The next enrolment excludes it, so the browser says "already registered" at once.
    again = options_on(signed_in.get("/security-info/add/webauthn/"))
    assert len(again["excludeCredentials"]) == 1


@pytest.mark.parametrize(
    ("answer", "status", "message"),
    [
        ("", 400, "Use your security key or passkey first"),
        ("{", 400, "was not understood"),
        ("x" * 20_000, 400, "was not understood"),
    ],
)
def test_bad_answers_save_nothing(
    signed_in: Client, answer: str, status: int, message: str
) -> None:
    signed_in.get("/security-info/add/webauthn/")
    response = signed_in.post(
        "/security-info/add/webauthn/", {"code": answer, "name": "Key"}, follow=True
    )
    assert response.status_code == status
    assert message in text(response)
    assert not RegisteredMethod.objects.filter(kind="webauthn").exists()


def test_a_key_made_on_another_site_is_refused_and_logged(signed_in: Client) -> None:
    options = options_on(signed_in.get("/security-info/add/webauthn/"))
    answer = SoftAuthenticator().create(options, origin="https://vahva-login.example.net")
    response = signed_in.post("/security-info/add/webauthn/", {"code": answer}, follow=True)
    assert response.status_code == 400
    assert "answered for a different web address" in text(response)
    # The page can try again at once: the same enrolment, its options still there.
    assert options_on(response)["challenge"] == options["challenge"]
    event = AuditEvent.objects.get(action="method.enrol", outcome="failure")
    assert event.data["method"] == "webauthn"
    assert event.reason == "answer made on another web address (origin)"
    assert not RegisteredMethod.objects.filter(kind="webauthn").exists()


def test_a_replayed_enrolment_adds_nothing(signed_in: Client) -> None:
    options = options_on(signed_in.get("/security-info/add/webauthn/"))
    answer = SoftAuthenticator().create(options)
    assert signed_in.post("/security-info/add/webauthn/", {"code": answer}).status_code == 302
    again = signed_in.post("/security-info/add/webauthn/", {"code": answer})
    assert again.status_code == 302  # the double submit carries on, and saved nothing more
    assert RegisteredMethod.objects.filter(kind="webauthn").count() == 1


def test_security_info_lists_the_key_and_removes_it(signed_in: Client, clock: FakeClock) -> None:
    options = options_on(signed_in.get("/security-info/add/webauthn/"))
    signed_in.post("/security-info/add/webauthn/", {"code": SoftAuthenticator().create(options)})
    saved = RegisteredMethod.objects.get(kind="webauthn")
    info = text(signed_in.get("/security-info/"))
    assert f'href="/security-info/remove/{saved.pk}/"' in info
    assert "Not yet" in info  # last used
    assert signed_in.post(f"/security-info/remove/{saved.pk}/").status_code == 302
    assert not WebAuthnCredential.objects.exists()
