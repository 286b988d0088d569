"""The authorization code flow through vahva's sign-in, as a service and a browser see it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from tests.helpers import code_for, sign_in_password, text
from vahva.audit.models import AuditEvent
from vahva.oidc.claims import ACR_MFA, ACR_SFA
from vahva.policy import campaign

from .helpers import authorize_url, code_from, exchange, id_token_claims, query_of

pytestmark = pytest.mark.django_db


def sign_in_with_code(client: Client, secret: str, clock: Any, start: str) -> Any:
    """Open ``start`` signed out, sign in with password and TOTP; the last response."""
    response = client.get(start)
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/?next=")
    page = client.get(response["Location"])
    assert "to continue to Mail" in text(page)
    response = sign_in_password(client, next=query_of(response["Location"])["next"])
    assert response["Location"] == "/signin/verify/"
    response = client.post("/signin/verify/", {"code": code_for(secret, clock)})
    assert response.status_code == 302
    return client.get(response["Location"])


def test_service_gets_who_and_how_after_password_and_code(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    response = sign_in_with_code(client, secret, clock, authorize_url(mail.client_id))
    code = code_from(response)
    tokens = exchange(client, mail, code).json()
    assert set(tokens) >= {"access_token", "refresh_token", "id_token", "expires_in"}
    claims = id_token_claims(client, tokens["id_token"])
    alice = alice_totp[0].user
    assert claims["sub"] == str(alice.public_id)
    assert claims["sub"] != alice.email
    assert claims["email"] == "alice@example.org"
    assert claims["name"] == "Alice"
    assert claims["aud"] == mail.client_id
    assert claims["iss"] == "http://testserver/o"
    assert claims["nonce"] == "n0nce"
    assert sorted(claims["amr"]) == ["mfa", "otp", "pwd"]
    assert claims["acr"] == ACR_MFA
    assert claims["auth_time"] == int(clock().timestamp())
    userinfo = client.get(
        "/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}"
    ).json()
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["email"] == "alice@example.org"
    assert AuditEvent.objects.filter(action="oidc.authorize", subject_id=alice.pk).exists()


def test_signed_in_browser_goes_straight_back(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    sign_in_with_code(client, secret, clock, authorize_url(mail.client_id))
    code = code_from(client.get(authorize_url(mail.client_id)))
    assert exchange(client, mail, code).status_code == 200


def test_refresh_rotates_and_keeps_auth_time_and_amr(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    code = code_from(sign_in_with_code(client, secret, clock, authorize_url(mail.client_id)))
    first = exchange(client, mail, code).json()
    clock.advance(30 * 60)
    refreshed = exchange(
        client, mail, "", grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert refreshed.status_code == 200, refreshed.content
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    claims = id_token_claims(client, second["id_token"])
    assert claims["auth_time"] == int((clock() - dt.timedelta(minutes=30)).timestamp())
    assert claims["acr"] == ACR_MFA
    # The old refresh token was rotated away; using it again revokes the family.
    again = exchange(
        client, mail, "", grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    newest = exchange(
        client, mail, "", grant_type="refresh_token", refresh_token=second["refresh_token"]
    )
    assert newest.status_code == 400


def test_password_only_sign_in_says_sfa(alice: Any, mail: Any, client: Client, clock: Any) -> None:
    # Alice has no method yet and put registering off: the policy lets her in with the
    # password, and the token says so.
    campaign.snooze(alice, now=clock())
    response = client.get(authorize_url(mail.client_id))
    next_url = query_of(response["Location"])["next"]
    response = sign_in_password(client, next=next_url)
    assert response["Location"].startswith("/security-info/setup/")
    code = code_from(client.get(next_url))
    claims = id_token_claims(client, exchange(client, mail, code).json()["id_token"])
    assert claims["amr"] == ["pwd"]
    assert claims["acr"] == ACR_SFA


def test_acr_values_mfa_forces_the_second_factor(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any, settings: Any
) -> None:
    # Within the activation delay the policy would skip MFA; the service's acr_values win.
    settings.VAHVA = {**settings.VAHVA, "ACTIVATION_DELAY": 7200}
    method, secret = alice_totp
    method.created_at = clock()
    method.save()
    url = authorize_url(mail.client_id, acr_values=ACR_MFA)
    response = client.get(url)
    response = sign_in_password(client, next=query_of(response["Location"])["next"])
    assert response["Location"] == "/signin/verify/"
    response = client.post("/signin/verify/", {"code": code_for(secret, clock)})
    claims = id_token_claims(
        client,
        exchange(client, mail, code_from(client.get(response["Location"]))).json()["id_token"],
    )
    assert claims["acr"] == ACR_MFA


def test_step_up_when_session_has_only_a_password(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any, settings: Any
) -> None:
    settings.VAHVA = {**settings.VAHVA, "ACTIVATION_DELAY": 7200}
    method, secret = alice_totp
    method.created_at = clock()
    method.save()
    # Signed in to vahva itself with the password only (MFA not yet enforced).
    assert sign_in_password(client)["Location"] == "/security-info/"
    url = authorize_url(mail.client_id, acr_values="mfa")
    response = client.get(url)
    assert response["Location"].startswith("/signin/?next=")
    # The sign-in page asks again although she is signed in.
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert 'value="alice@example.org"' in text(page)
    response = sign_in_password(client, next=query_of(response["Location"])["next"])
    assert response["Location"] == "/signin/verify/"
    response = client.post("/signin/verify/", {"code": code_for(secret, clock)})
    assert code_from(client.get(response["Location"]))


def test_service_rule_always_needs_mfa_and_never_skips_it(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any, settings: Any
) -> None:
    from vahva.oidc.models import Service

    settings.VAHVA = {**settings.VAHVA, "ACTIVATION_DELAY": 7200}
    method, _secret = alice_totp
    method.created_at = clock()
    method.save()
    service = Service.objects.get(application=mail.application)
    service.mfa_rule = "never"
    service.save()
    response = client.get(authorize_url(mail.client_id))
    response = sign_in_password(client, next=query_of(response["Location"])["next"])
    assert response["Location"].startswith("/o/authorize/")
    service.mfa_rule = "always"
    service.save()
    client.post("/signout/")
    response = client.get(authorize_url(mail.client_id))
    response = sign_in_password(client, next=query_of(response["Location"])["next"])
    assert response["Location"] == "/signin/verify/"
    event = AuditEvent.objects.filter(action="signin.success").order_by("-id").first()
    assert event is not None
    assert "service Mail never requires it" in event.reason


def test_prompt_login_asks_again(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    sign_in_with_code(client, secret, clock, authorize_url(mail.client_id))
    clock.advance(5 * 60)
    url = authorize_url(mail.client_id, prompt="login")
    response = client.get(url)
    assert response["Location"].startswith("/signin/?next=")
    response = sign_in_password(client, next=query_of(response["Location"])["next"])
    response = client.post("/signin/verify/", {"code": code_for(secret, clock)})
    # Back at the same request (still with prompt=login): now it is satisfied.
    assert response["Location"] == url
    code = code_from(client.get(url))
    claims = id_token_claims(client, exchange(client, mail, code).json()["id_token"])
    assert claims["auth_time"] == int(clock().timestamp())


def test_max_age(alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any) -> None:
    _method, secret = alice_totp
    sign_in_with_code(client, secret, clock, authorize_url(mail.client_id))
    clock.advance(10 * 60)
    assert code_from(client.get(authorize_url(mail.client_id, max_age="3600")))
    response = client.get(authorize_url(mail.client_id, max_age="300"))
    assert response["Location"].startswith("/signin/?next=")


def test_prompt_none_when_signed_out_tells_the_service(mail: Any, client: Client) -> None:
    response = client.get(authorize_url(mail.client_id, prompt="none"))
    assert response.status_code == 302
    query = query_of(response["Location"])
    assert response["Location"].startswith("http://localhost:8001/callback")
    assert query["error"] == "login_required"
    assert query["state"] == "st4te"


def test_person_without_method_and_service_demanding_mfa_is_told_what_to_do(
    alice: Any, mail: Any, client: Client, clock: Any
) -> None:
    campaign.snooze(alice, now=clock())  # "Not now": else the door sends her to the wizard
    url = authorize_url(mail.client_id, acr_values="mfa")
    response = client.get(url)
    response = sign_in_password(client, next=query_of(response["Location"])["next"])
    page = client.get(url)
    assert page.status_code == 403
    assert "Set up a sign-in method" in text(page)


def test_public_client_with_pkce_and_loopback_port(
    alice_totp: tuple[Any, str], mobile: Any, client: Client, clock: Any, pkce: Any
) -> None:
    _method, secret = alice_totp
    # RFC 8252 §7.3: a loopback redirect may use any port.
    redirect = "http://127.0.0.1:53124/callback"
    url = authorize_url(mobile.client_id, challenge=pkce.challenge, redirect_uri=redirect)
    response = client.get(url)
    response = sign_in_password(client, next=query_of(response["Location"])["next"])
    response = client.post("/signin/verify/", {"code": code_for(secret, clock)})
    response = client.get(response["Location"])
    assert response["Location"].startswith(redirect)
    code = query_of(response["Location"])["code"]
    tokens = client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": mobile.client_id,
            "code_verifier": pkce.verifier,
        },
    )
    assert tokens.status_code == 200, tokens.content
    assert id_token_claims(client, tokens.json()["id_token"])["acr"] == ACR_MFA


def test_third_party_service_asks_for_consent(
    alice_totp: tuple[Any, str], client: Client, clock: Any
) -> None:
    from vahva.oidc import clients

    outside = clients.add(
        name="Survey tool", redirect_uris=["http://localhost:8001/callback"], third_party=True
    )
    _method, secret = alice_totp
    page = client.get(authorize_url(outside.client_id))
    response = sign_in_password(client, next=query_of(page["Location"])["next"])
    response = client.post("/signin/verify/", {"code": code_for(secret, clock)})
    consent = client.get(response["Location"])
    assert consent.status_code == 200
    assert "Allow Survey tool?" in text(consent)
    assert "See your e-mail address" in text(consent)
    form = {
        name: consent.context["form"][name].value()
        for name in (
            *("redirect_uri", "scope", "nonce", "client_id", "state", "response_type"),
            *("code_challenge", "code_challenge_method"),
        )
    }
    denied = client.post("/o/authorize/", form)
    assert query_of(denied["Location"])["error"] == "access_denied"
    # Each consent page is answered once: the same answer again is refused...
    assert client.post("/o/authorize/", {**form, "allow": "Authorize"}).status_code == 400
    # ...and the page shown again can be allowed.
    client.get(response["Location"])
    allowed = client.post("/o/authorize/", {**form, "allow": "Authorize"})
    assert code_from(allowed)


def test_signing_out_everywhere_revokes_the_services_tokens(
    alice_totp: tuple[Any, str], alice: Any, mail: Any, client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    code = code_from(sign_in_with_code(client, secret, clock, authorize_url(mail.client_id)))
    tokens = exchange(client, mail, code).json()

    alice.sign_out_everywhere()

    # A stolen refresh token stops working, and the access token is no longer accepted.
    refreshed = exchange(
        client, mail, "", grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
    userinfo = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert userinfo.status_code == 401
    assert AuditEvent.objects.get(action="oidc.tokens_revoked").data["count"] == 1
