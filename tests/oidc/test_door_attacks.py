"""Attacks on the one door (issue #14, items 1-3), performed as an attacker would, refused.

Each test signs in with what an attacker has (a password) in a situation where the policy lets
a password through for some other purpose (a trusted network, the activation delay, a snooze),
then tries to get what the service's rule, the registration campaign or staff status denies.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.helpers import code_for, sign_in_password, text
from vahva.audit.models import AuditEvent
from vahva.oidc.models import Authorization, Service
from vahva.policy import campaign

from .conftest import REDIRECT
from .helpers import authorize_url, code_from, query_of

pytestmark = pytest.mark.django_db

CAMPUS = {"Campus": ["127.0.0.0/8"]}  # Django's test client comes from 127.0.0.1


@pytest.fixture
def on_campus(settings: Any) -> None:
    settings.VAHVA = {**settings.VAHVA, "TRUSTED_NETWORKS": CAMPUS}


def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


def csrf_token(client: Client) -> str:
    """A CSRF token from a page with a form (the help page's feedback form, signed in or not)."""
    page = text(client.get("/help/"))
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def forged_consent(client: Client, service: Any, *, query: str = "", **extra: str) -> Any:
    """POST /o/authorize/ as the toolkit's consent form would, without any page shown."""
    data = {
        "csrfmiddlewaretoken": csrf_token(client),
        "client_id": service.client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid",
        "state": "st4te",
        "allow": "Authorize",
    }
    return client.post("/o/authorize/" + query, {**data, **extra})


def no_code(response: Any) -> None:
    location = response.get("Location", "")
    assert "code=" not in location
    assert not location.startswith(REDIRECT)
    assert not Authorization.objects.exists()


# --- 1. the consent form's POST -----------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "query"),
    [
        ("always", ""),
        ("phishing_resistant", ""),
        ("outside_trusted", "?acr_values=https%3A%2F%2Frefeds.org%2Fprofile%2Fmfa"),
    ],
)
def test_posting_the_consent_form_does_not_skip_the_services_rule(
    alice_totp: tuple[Any, str], mail: Any, clock: Any, on_campus: None, rule: str, query: str
) -> None:
    Service.objects.filter(application=mail.application).update(mfa_rule=rule)
    client = csrf_client()
    # On campus the password alone signs Alice in to vahva itself.
    assert sign_in_password(client, csrfmiddlewaretoken=csrf_token(client))["Location"] == (
        "/security-info/"
    )
    response = forged_consent(client, mail, query=query)
    assert response.status_code == 400
    assert "This form has expired" in text(response)
    no_code(response)
    refused = AuditEvent.objects.get(action="oidc.refused")
    assert refused.reason == "a consent form was posted that this browser was not shown"


def test_a_consent_page_shown_cannot_be_answered_with_other_fields(
    alice_totp: tuple[Any, str], clock: Any
) -> None:
    from vahva.oidc import clients

    survey = clients.add(name="Survey", redirect_uris=[REDIRECT], third_party=True)
    _method, secret = alice_totp
    client = csrf_client()
    page = client.get(authorize_url(survey.client_id))
    sign_in_password(
        client, next=query_of(page["Location"])["next"], csrfmiddlewaretoken=csrf_token(client)
    )
    verified = client.post(
        "/signin/verify/",
        {"code": code_for(secret, clock), "csrfmiddlewaretoken": csrf_token(client)},
    )
    consent = client.get(verified["Location"])
    assert "Allow Survey?" in text(consent)
    # The page asked for "openid profile email"; the forged answer widens nothing, and
    # sends the code nowhere else.
    for changed in ({"scope": "openid profile email address"}, {"state": "other"}):
        fields = {"scope": "openid profile email", "nonce": "n0nce", **changed}
        response = forged_consent(client, survey, **fields)
        assert response.status_code == 400
        no_code(response)


# --- 2. mandatory registration -------------------------------------------------------------


@pytest.mark.parametrize("snoozes", [0, 3])
def test_not_following_the_wizards_redirect_gets_no_code(
    alice: Any, mail: Any, client: Client, clock: Any, settings: Any, snoozes: int
) -> None:
    # Whether "Not now" is still on offer (3) or not (0): until it is pressed, no service.
    settings.VAHVA = {**settings.VAHVA, "REGISTRATION_MAX_SNOOZES": snoozes}
    signed_in = sign_in_password(client)
    assert signed_in["Location"].startswith("/security-info/setup/")
    # The attacker types the service's address instead of following the redirect.
    response = client.get(authorize_url(mail.client_id))
    assert response.status_code == 302
    assert response["Location"].startswith("/security-info/setup/")
    no_code(response)
    # A service asking without a page (prompt=none) hears that a page is needed.
    silent = client.get(authorize_url(mail.client_id, prompt="none"))
    if silent["Location"].startswith(REDIRECT):
        assert query_of(silent["Location"])["error"] == "interaction_required"
    no_code(silent)


def test_the_door_decides_registration_even_without_the_session_flag(
    alice: Any, mail: Any, client: Client, clock: Any
) -> None:
    # The wizard's flag in the session is a convenience; the door reads the person's state.
    sign_in_password(client)
    session = client.session
    session.pop("vahva_must_register", None)
    session.save()
    response = client.get(authorize_url(mail.client_id))
    assert response["Location"].startswith("/security-info/setup/start/")
    no_code(response)


def test_after_not_now_the_password_alone_reaches_the_service(
    alice: Any, mail: Any, client: Client, clock: Any
) -> None:
    sign_in_password(client)
    assert client.post("/security-info/setup/skip/").status_code == 302
    assert code_from(client.get(authorize_url(mail.client_id)))
    # The snooze ends: the door sends her to the wizard again.
    clock.advance(2 * 86400)
    response = client.get(authorize_url(mail.client_id, prompt="login"))
    sign_in_password(client, next=query_of(response["Location"])["next"])
    assert client.get(authorize_url(mail.client_id))["Location"].startswith("/security-info/")


# --- 3. staff ----------------------------------------------------------------------------------


@pytest.fixture
def helen(make_user: Any) -> Any:
    staff = make_user("helen@example.org", full_name="Helen", is_staff=True)
    staff.user_permissions.add(
        Permission.objects.get(content_type__app_label="helpdesk", codename="access")
    )
    return staff


@pytest.fixture
def helen_totp(helen: Any, clock: Any) -> str:
    from vahva.methods import service
    from vahva.methods.totp import generate_secret

    secret = generate_secret()
    service.save_new(helen, "totp", now=clock() - dt.timedelta(days=1), secret=secret)
    return secret


@pytest.mark.parametrize("path", ["/helpdesk/", "/admin/"])
def test_staff_are_asked_for_a_second_factor_even_on_campus(
    helen: Any, helen_totp: str, client: Client, clock: Any, on_campus: None, path: str
) -> None:
    helen.is_superuser = path == "/admin/"
    helen.save()
    password = sign_in_password(client, "helen@example.org")
    assert password["Location"] == "/signin/verify/"
    event = AuditEvent.objects.get(action="signin.password", outcome="ok")
    assert event.reason == "MFA required: staff always use a second factor"
    # Skipping the second step: the staff page sends her back to sign in.
    skipped = client.get(path, follow=True)
    assert skipped.redirect_chain
    assert "<h1>Sign in</h1>" in text(skipped)
    client.post("/signin/verify/", {"code": code_for(helen_totp, clock)})
    assert client.get(path).status_code == 200


def test_an_exemption_does_not_waive_staffs_second_factor(
    helen: Any, helen_totp: str, client: Client, clock: Any
) -> None:
    from vahva.policy import exemptions

    exemptions.grant(
        helen, ticket="T-1", reason="test", expires_at=clock() + dt.timedelta(days=1), now=clock()
    )
    assert sign_in_password(client, "helen@example.org")["Location"] == "/signin/verify/"


def test_a_password_only_session_gets_no_staff_page_get_or_post(
    helen: Any, helen_totp: str, alice: Any, clock: Any
) -> None:
    # A session from before Helen became staff (or made any other way without a second
    # factor): no page, and no action posted to the helpdesk.
    from vahva.methods import tap

    helen.is_staff = False
    helen.save()
    client = csrf_client()
    sign_in_password(client, "helen@example.org", csrfmiddlewaretoken=csrf_token(client))
    helen.is_staff = True
    helen.save()
    token = csrf_token(client)
    assert client.get("/helpdesk/")["Location"].startswith("/signin/")
    posted = client.post(
        f"/helpdesk/people/{alice.pk}/pass/",
        {
            "csrfmiddlewaretoken": token,
            "pass-ticket": "T-1",
            "pass-lifetime": "3600",
            "pass-use": "one_time",
        },
    )
    assert posted.status_code == 302
    assert posted["Location"].startswith("/signin/")
    assert tap.active_pass(alice, now=clock()) is None


def test_staff_without_a_method_must_register_and_cannot_put_it_off(
    helen: Any, client: Client, clock: Any, on_campus: None
) -> None:
    signed_in = sign_in_password(client, "helen@example.org")
    assert signed_in["Location"].startswith("/security-info/setup/")
    wizard = client.get("/security-info/setup/")
    assert "Not now" not in text(wizard)
    # The button the page did not show, posted anyway.
    refused = client.post("/security-info/setup/skip/")
    assert refused.status_code == 403
    assert not campaign.standing(helen, now=clock()).snoozed_until
    # The staff tools stay shut until she has signed in with a method of her own.
    assert client.get("/helpdesk/")["Location"].startswith("/security-info/setup/")


def test_staff_may_be_held_to_a_security_key(
    helen: Any, helen_totp: str, client: Client, clock: Any, settings: Any
) -> None:
    settings.VAHVA = {**settings.VAHVA, "STAFF_PHISHING_RESISTANT": True}
    assert sign_in_password(client, "helen@example.org")["Location"] == "/signin/verify/"
    code = client.post("/signin/verify/", {"code": code_for(helen_totp, clock)})
    assert code.status_code == 403
    assert "security key or passkey" in text(code)
    assert client.get("/helpdesk/")["Location"].startswith("/signin/")


@pytest.mark.parametrize("exempt", [False, True])
def test_a_person_without_a_method_gets_nothing_from_a_service_that_always_asks(
    alice: Any, mail: Any, client: Client, clock: Any, exempt: bool
) -> None:
    # Putting registration off (or an opt-out) is not a way around a service's "always".
    from vahva.policy import exemptions

    Service.objects.filter(application=mail.application).update(mfa_rule="always")
    campaign.snooze(alice, now=clock())
    if exempt:
        exemptions.grant(
            alice,
            ticket="T-2",
            reason="opt-out",
            expires_at=clock() + dt.timedelta(days=9),
            now=clock(),
        )
    start = client.get(authorize_url(mail.client_id))
    sign_in_password(client, next=query_of(start["Location"])["next"])
    refused = client.get(authorize_url(mail.client_id))
    assert refused.status_code == 403
    assert "Set up a sign-in method" in text(refused)
    no_code(refused)
