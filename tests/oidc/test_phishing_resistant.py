"""A service that accepts only phishing-resistant MFA: a security key or passkey passes, a code
does not, and the ID token says which (``acr`` "phr", ``amr`` hwk/swk + user)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from tests.helpers import code_for, sign_in_password, text
from tests.methods.soft_authenticator import SoftAuthenticator
from tests.signin.test_passkeys import enrol, options_on
from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.oidc import claims
from vahva.oidc.claims import ACR_MFA, ACR_PHR
from vahva.oidc.models import Service
from vahva.policy import campaign
from vahva.policy.decide import SERVICE_RULES

from .conftest import REDIRECT
from .helpers import authorize_url, code_from, exchange, id_token_claims, query_of

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


# --- the pure part ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amr", "phishing_resistant", "requested", "acr"),
    [
        (["hwk", "mfa", "pwd", "user"], True, "phr", ACR_PHR),
        (["hwk", "mfa", "pwd", "user"], True, "", ACR_MFA),
        (["hwk", "mfa", "pwd", "user"], True, "mfa phr", ACR_MFA),
        (["mfa", "otp", "pwd"], False, "phr", ACR_MFA),
        (["mfa", "otp", "pwd"], False, "phr sfa", claims.ACR_SFA),
        (["pwd"], False, "phr", claims.ACR_SFA),
    ],
)
def test_acr_is_the_first_requested_value_achieved(
    amr: list[str], phishing_resistant: bool, requested: str, acr: str
) -> None:
    assert claims.acr_for(amr, phishing_resistant=phishing_resistant, requested=requested) == acr


@pytest.mark.parametrize(
    ("acr_values", "mfa", "phr"),
    [("phr", True, True), ("phr mfa", True, False), ("phr sfa", False, False), ("x", False, False)],
)
def test_acr_values_phr_asks_for_a_key(acr_values: str, mfa: bool, phr: bool) -> None:
    assert claims.wants_mfa(acr_values) is mfa
    assert claims.wants_phishing_resistant(acr_values) is phr


def test_the_rule_is_one_of_the_services_choices() -> None:
    assert "phishing_resistant" in SERVICE_RULES
    field = Service._meta.get_field("mfa_rule")
    assert "phishing_resistant" in dict(field.choices or [])  # type: ignore[arg-type]


# --- through the pages ------------------------------------------------------------------------


@pytest.fixture
def strict_mail(mail: Any) -> Any:
    Service.objects.filter(application=mail.application).update(mfa_rule="phishing_resistant")
    return mail


def _to_verify(client: Client, url: str) -> str:
    response = client.get(url)
    assert response["Location"].startswith("/signin/?next=")
    next_url = query_of(response["Location"])["next"]
    assert sign_in_password(client, next=next_url)["Location"] == "/signin/verify/"
    return next_url


@pytest.mark.django_db
def test_a_key_passes_and_the_token_says_phr(
    alice_totp: tuple[Any, str], strict_mail: Any, client: Client, clock: FakeClock
) -> None:
    alice = alice_totp[0].user
    key = SoftAuthenticator()
    registered = enrol(alice, clock, key)
    _to_verify(client, authorize_url(strict_mail.client_id))
    # The default is the app code; the service accepts only the key, so the key is asked.
    page = client.get("/signin/verify/")
    assert "Use your security key or passkey (YubiKey)" in text(page)
    assert "Sign in another way" not in text(page)
    response = client.post(
        f"/signin/verify/?method={registered.pk}", {"code": key.get(options_on(page))}
    )
    code = code_from(client.get(response["Location"]))
    token = id_token_claims(client, exchange(client, strict_mail, code).json()["id_token"])
    assert token["acr"] == ACR_PHR
    assert sorted(token["amr"]) == ["hwk", "mfa", "pwd", "user"]
    event = AuditEvent.objects.get(action="signin.password", outcome="ok")
    assert "requires phishing-resistant MFA" in event.reason


@pytest.mark.django_db
def test_a_code_is_refused_where_only_a_key_will_do(
    alice_totp: tuple[Any, str], strict_mail: Any, client: Client, clock: FakeClock
) -> None:
    totp, secret = alice_totp
    key = SoftAuthenticator()
    enrol(totp.user, clock, key)
    _to_verify(client, authorize_url(strict_mail.client_id))
    # Asking for the app code page by hand: refused, and the key offered instead.
    page = client.get(f"/signin/verify/?method={totp.pk}")
    assert page.status_code == 403
    assert "Mail accepts only a security key or passkey" in text(page)
    assert "Security key or passkey (YubiKey)" in text(page)
    assert "Authenticator app code" not in text(page)
    # Posting a right code anyway: refused before it is checked, and logged.
    response = client.post(f"/signin/verify/?method={totp.pk}", {"code": code_for(secret, clock)})
    assert response.status_code == 403
    event = AuditEvent.objects.get(action="signin.mfa", outcome="failure")
    assert event.reason.startswith("not phishing-resistant")
    assert not client.session.get("_auth_user_id")
    other = text(client.get("/signin/other/"))
    assert "This service accepts only a security key or passkey." in other
    assert "Authenticator app code" not in other


@pytest.mark.django_db
def test_without_a_key_the_person_is_told_how_to_get_one(
    alice_totp: tuple[Any, str], strict_mail: Any, client: Client, clock: FakeClock
) -> None:
    _totp, secret = alice_totp
    _to_verify(client, authorize_url(strict_mail.client_id))
    page = client.get("/signin/verify/")
    assert page.status_code == 403
    assert "you have not added one" in text(page)
    # Signed in to vahva itself with the code, the service still says no, with a way on.
    client.post("/signout/")
    assert sign_in_password(client)["Location"] == "/signin/verify/"
    client.post("/signin/verify/", {"code": code_for(secret, clock)})
    refused = client.get(authorize_url(strict_mail.client_id))
    assert refused.status_code == 403
    assert "Mail accepts only a security key or passkey" in text(refused)
    assert "/security-info/add/webauthn/" in text(refused)


@pytest.mark.django_db
def test_a_password_alone_never_reaches_a_strict_service(
    alice: Any, strict_mail: Any, client: Client, clock: FakeClock
) -> None:
    response = client.get(authorize_url(strict_mail.client_id))
    next_url = query_of(response["Location"])["next"]
    sign_in_password(client, next=next_url)
    refused = client.get(next_url)
    # Sent to register first (she has no method), and in no case to the service with a code.
    assert refused.status_code == 302
    assert refused["Location"].startswith("/security-info/setup/")
    campaign.snooze(alice, now=clock())
    refused = client.get(next_url)
    assert refused.status_code == 403
    assert "code=" not in refused.get("Location", "")
    assert not str(refused.get("Location", "")).startswith(REDIRECT)


@pytest.mark.django_db
def test_signed_in_with_a_code_steps_up_to_the_key(
    alice_totp: tuple[Any, str], strict_mail: Any, client: Client, clock: FakeClock
) -> None:
    totp, secret = alice_totp
    key = SoftAuthenticator()
    registered = enrol(totp.user, clock, key)
    sign_in_password(client)
    client.post("/signin/verify/", {"code": code_for(secret, clock)})
    response = client.get(authorize_url(strict_mail.client_id))
    assert response["Location"].startswith("/signin/?next=")
    assert (
        sign_in_password(client, next=query_of(response["Location"])["next"])["Location"]
        == "/signin/verify/"
    )
    page = client.get("/signin/verify/")
    response = client.post(
        f"/signin/verify/?method={registered.pk}", {"code": key.get(options_on(page))}
    )
    assert code_from(client.get(response["Location"]))


@pytest.mark.django_db
def test_acr_values_phr_from_an_ordinary_service(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: FakeClock
) -> None:
    totp, secret = alice_totp
    key = SoftAuthenticator(backup_eligible=True)
    registered = enrol(totp.user, clock, key)
    _to_verify(client, authorize_url(mail.client_id, acr_values="phr"))
    refused = client.post(f"/signin/verify/?method={totp.pk}", {"code": code_for(secret, clock)})
    assert refused.status_code == 403
    page = client.get("/signin/verify/")
    response = client.post(
        f"/signin/verify/?method={registered.pk}", {"code": key.get(options_on(page))}
    )
    code = code_from(client.get(response["Location"]))
    token = id_token_claims(client, exchange(client, mail, code).json()["id_token"])
    assert token["acr"] == ACR_PHR
    # A passkey that may be synced between devices is a software-secured key.
    assert sorted(token["amr"]) == ["mfa", "pwd", "swk", "user"]


@pytest.mark.django_db
def test_discovery_lists_phr(client: Client) -> None:
    data = client.get("/o/.well-known/openid-configuration").json()
    assert ACR_PHR in data["acr_values_supported"]
