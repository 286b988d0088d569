"""Security keys and passkeys through the sign-in pages (Django's test client, a software
authenticator): as a second factor, passwordless, to confirm a change, and every refusal."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from tests.helpers import sign_in_password, text
from tests.methods.soft_authenticator import SoftAuthenticator
from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.methods import registry
from vahva.methods.models import RegisteredMethod
from vahva.signin.engine import SESSION_AUTH
from vahva.signin.models import SignInAttempt

pytestmark = pytest.mark.django_db

METHOD = registry.get("webauthn")


def options_on(page: Any) -> dict[str, Any]:
    match = re.search(
        r'<script id="webauthn-options" type="application/json">(.*?)</script>', text(page), re.S
    )
    assert match, "the page carries the options for the browser's prompt"
    return dict(json.loads(match.group(1)))


def enrol(user: Any, clock: FakeClock, key: SoftAuthenticator, name: str = "YubiKey") -> Any:
    pending = METHOD.start_enrolment(user, now=clock())
    answer = key.create(METHOD.enrolment_context(pending)["options"])
    return METHOD.finish_enrolment(pending, answer, now=clock(), name=name)


@pytest.fixture
def key() -> SoftAuthenticator:
    return SoftAuthenticator()


@pytest.fixture
def alice_key(alice: Any, clock: FakeClock, key: SoftAuthenticator) -> Any:
    return enrol(alice, clock, key)


@pytest.fixture
def passkeys_on(settings: Any) -> None:
    settings.VAHVA = {**settings.VAHVA, "PASSKEY_SIGNIN": True}


def _verify_page(client: Client) -> Any:
    assert sign_in_password(client)["Location"] == "/signin/verify/"
    page = client.get("/signin/verify/")
    assert page.status_code == 200
    return page


# --- second factor ----------------------------------------------------------------------------


def test_password_then_security_key_signs_in(
    alice_key: Any, client: Client, clock: FakeClock, key: SoftAuthenticator
) -> None:
    page = _verify_page(client)
    assert "Use your security key or passkey (YubiKey)" in text(page)
    assert "methods/webauthn.js" in text(page)
    options = options_on(page)
    assert options["rpId"] == "localhost"
    clock.advance(30)
    response = client.post(f"/signin/verify/?method={alice_key.pk}", {"code": key.get(options)})
    assert response.status_code == 302
    assert response["Location"] == "/security-info/"
    attempt = SignInAttempt.objects.get()
    assert attempt.state == "done"
    # RFC 8176: password, a hardware-bound key, the person verified by it; multi-factor.
    assert attempt.amr == ["hwk", "mfa", "pwd", "user"]
    info = text(client.get("/security-info/"))
    assert "Security key or passkey (YubiKey)" in info
    assert RegisteredMethod.objects.get(pk=alice_key.pk).last_used_at == clock()


def test_a_mangled_answer_is_400_and_the_attempt_goes_on(
    alice_key: Any, client: Client, clock: FakeClock, key: SoftAuthenticator
) -> None:
    options = options_on(_verify_page(client))
    for garbage in ("{not json", "[]", "x" * 20_000, ""):
        response = client.post(f"/signin/verify/?method={alice_key.pk}", {"code": garbage})
        assert response.status_code == 400
        assert "<h1>Verify your identity</h1>" in text(response)
    assert SignInAttempt.objects.get().state == "mfa_required"
    # The page says how to go on: the challenge is unused, but a fresh prompt is one click.
    assert 'id="try-again"' in text(response)
    fresh = options_on(client.get(f"/signin/verify/?method={alice_key.pk}"))
    assert fresh["challenge"] != options["challenge"]
    response = client.post(f"/signin/verify/?method={alice_key.pk}", {"code": key.get(fresh)})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("lie", "message", "reason"),
    [
        (
            {"origin": "https://vahva-login.example.net"},
            "answered for a different web address",
            "origin",
        ),
        ({"rp_id": "example.net"}, "answered for a different web address", "RP ID"),
        ({"user_verified": False, "count": 0}, "use counter went backwards", "cloned"),
    ],
)
def test_refused_answers_say_why_and_are_logged(
    alice_key: Any,
    client: Client,
    clock: FakeClock,
    key: SoftAuthenticator,
    lie: dict[str, Any],
    message: str,
    reason: str,
) -> None:
    # The key was used once already (count 1): a count of 0 now is a copy's.
    RegisteredMethod.objects.filter(pk=alice_key.pk).update(counter=1)
    options = options_on(_verify_page(client))
    response = client.post(
        f"/signin/verify/?method={alice_key.pk}", {"code": key.get(options, **lie)}
    )
    assert response.status_code == 400
    assert message in text(response)
    event = AuditEvent.objects.get(action="signin.mfa", outcome="failure")
    assert reason in event.reason
    assert event.data["method"] == "webauthn"
    assert SignInAttempt.objects.get().state == "mfa_required"


def test_a_replayed_answer_is_refused_and_logged(
    alice_key: Any, client: Client, clock: FakeClock, key: SoftAuthenticator
) -> None:
    options = options_on(_verify_page(client))
    answer = key.get(options)
    assert (
        client.post(f"/signin/verify/?method={alice_key.pk}", {"code": answer}).status_code == 302
    )
    # Someone who captured the answer replays it in their own sign-in.
    thief = Client()
    _verify_page(thief)
    response = thief.post(f"/signin/verify/?method={alice_key.pk}", {"code": answer})
    assert response.status_code == 400
    assert "does not belong to this sign-in" in text(response)
    # And in the same browser, the same answer again (a second sign-in).
    client.post("/signout/")
    _verify_page(client)
    response = client.post(f"/signin/verify/?method={alice_key.pk}", {"code": answer})
    assert response.status_code == 400
    reasons = list(
        AuditEvent.objects.filter(action="signin.mfa", outcome="failure").values_list(
            "reason", flat=True
        )
    )
    assert reasons == ["answer to a challenge that was not this ceremony's"] * 2


def test_a_key_that_is_not_hers_is_unknown(
    alice_key: Any, make_user: Any, client: Client, clock: FakeClock
) -> None:
    bobs = SoftAuthenticator()
    enrol(make_user("bob@example.org"), clock, bobs)
    options = options_on(_verify_page(client))
    response = client.post(f"/signin/verify/?method={alice_key.pk}", {"code": bobs.get(options)})
    assert response.status_code == 400
    assert "not registered to your account" in text(response)
    assert AuditEvent.objects.get(action="signin.mfa", outcome="failure").reason == (
        "unknown credential"
    )


# --- passwordless -----------------------------------------------------------------------------


def test_without_the_setting_there_is_no_passkey_sign_in(alice_key: Any, client: Client) -> None:
    assert "Sign in with a passkey" not in text(client.get("/signin/"))
    assert client.post("/signin/passkey/options/").status_code == 404
    assert client.post("/signin/passkey/", {"code": "{}"}).status_code == 404


def test_passwordless_sign_in_with_a_passkey(
    passkeys_on: None, alice_key: Any, client: Client, clock: FakeClock, key: SoftAuthenticator
) -> None:
    page = text(client.get("/signin/?next=/security-info/"))
    assert "Sign in with a passkey" in page
    assert 'data-options-url="/signin/passkey/options/"' in page
    options = client.post("/signin/passkey/options/").json()
    assert options["allowCredentials"] == []
    assert options["userVerification"] == "required"
    response = client.post(
        "/signin/passkey/", {"code": key.get(options), "next": "/security-info/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/security-info/"
    auth = client.session[SESSION_AUTH]
    # No password was typed: no "pwd". The passkey verified the person: multi-factor.
    assert auth["amr"] == ["hwk", "mfa", "user"]
    assert auth["method"] == "webauthn"
    assert SignInAttempt.objects.get().state == "done"
    assert AuditEvent.objects.filter(action="signin.passkey", outcome="ok").count() == 1
    success = AuditEvent.objects.get(action="signin.success")
    assert success.data["amr"] == ["hwk", "mfa", "user"]
    assert client.get("/security-info/").status_code == 200


def test_a_passkey_that_did_not_verify_the_person_is_refused(
    passkeys_on: None, alice_key: Any, client: Client, key: SoftAuthenticator
) -> None:
    options = client.post("/signin/passkey/options/").json()
    response = client.post("/signin/passkey/", {"code": key.get(options, user_verified=False)})
    assert response.status_code == 400
    assert "did not check that it is you" in text(response)
    assert "<h1>Sign in</h1>" in text(response)
    event = AuditEvent.objects.get(action="signin.passkey", outcome="failure")
    assert event.subject_id == alice_key.user_id
    assert "did not verify the person" in event.reason
    assert not SignInAttempt.objects.exists()


@pytest.mark.parametrize("garbage", ["", "{", '{"id": 5}', "null"])
def test_a_mangled_passkey_answer_is_400(passkeys_on: None, client: Client, garbage: str) -> None:
    client.post("/signin/passkey/options/")
    response = client.post("/signin/passkey/", {"code": garbage})
    assert response.status_code == 400
    assert "<h1>Sign in</h1>" in text(response)
    assert not SignInAttempt.objects.exists()


def test_a_passkey_answer_from_another_browser_is_refused(
    passkeys_on: None, alice_key: Any, client: Client, key: SoftAuthenticator
) -> None:
    # A phishing page got Alice's browser to answer its own session's challenge...
    options = Client().post("/signin/passkey/options/").json()
    client.post("/signin/passkey/options/")
    # ...and hands the answer in here: it belongs to the other session.
    response = client.post("/signin/passkey/", {"code": key.get(options)})
    assert response.status_code == 400
    assert AuditEvent.objects.get(action="signin.passkey", outcome="failure").reason == (
        "answer to a challenge that was not this ceremony's"
    )


def test_an_unknown_passkey_and_a_disabled_account_are_refused(
    passkeys_on: None, alice_key: Any, client: Client, key: SoftAuthenticator
) -> None:
    stranger = SoftAuthenticator()
    stranger.user_handle = b"u" * 32
    options = client.post("/signin/passkey/options/").json()
    response = client.post("/signin/passkey/", {"code": stranger.get(options)})
    assert response.status_code == 400
    assert "not registered to your account" in text(response)
    alice = alice_key.user
    alice.is_active = False
    alice.save()
    options = client.post("/signin/passkey/options/").json()
    response = client.post("/signin/passkey/", {"code": key.get(options)})
    assert response.status_code == 403
    assert "cannot sign in" in text(response)
    assert not SignInAttempt.objects.exists()


def test_passkey_sign_in_continues_to_the_service(
    passkeys_on: None, alice_key: Any, client: Client, key: SoftAuthenticator
) -> None:
    options = client.post("/signin/passkey/options/").json()
    # An open redirect is not followed: only addresses on this site.
    response = client.post(
        "/signin/passkey/", {"code": key.get(options), "next": "https://evil.example/"}
    )
    assert response["Location"] == "/security-info/"


# --- confirming a change ----------------------------------------------------------------------


def test_a_security_key_confirms_a_change(
    alice_key: Any, client: Client, clock: FakeClock, key: SoftAuthenticator
) -> None:
    page = _verify_page(client)
    client.post(f"/signin/verify/?method={alice_key.pk}", {"code": key.get(options_on(page))})
    clock.advance(600)  # past REAUTH_TTL, within the session's idle timeout
    # Removing a method needs a recent proof: the key, with a challenge of its own.
    response = client.post(f"/security-info/remove/{alice_key.pk}/")
    assert response["Location"].startswith("/signin/confirm/")
    confirm = client.get(response["Location"])
    assert "Use security key or passkey" in text(confirm)
    options = options_on(confirm)
    bad = client.post("/signin/confirm/", {"code": "{", "next": "/security-info/"})
    assert bad.status_code == 400
    done = client.post(
        "/signin/confirm/",
        {"code": key.get(options), "next": f"/security-info/remove/{alice_key.pk}/"},
    )
    assert done.status_code == 302
    assert client.post(f"/security-info/remove/{alice_key.pk}/").status_code == 302
    assert not RegisteredMethod.objects.filter(pk=alice_key.pk).exists()
