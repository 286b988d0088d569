"""The setup wizard, Add method and Security info through the browser's eyes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pyotp
import pytest
from django.test import Client

from tests.helpers import PASSWORD, code_for, sign_in_password, text
from tests.registration.prg import failed_post
from vahva.audit.models import AuditEvent
from vahva.methods.models import PendingEnrolment, RegisteredMethod

pytestmark = pytest.mark.django_db


def _secret_on(page: Any) -> str:
    match = re.search(r'<code id="secret" class="secret">([A-Z2-7 ]+)</code>', text(page))
    assert match, "the secret is shown as text for typing"
    return match.group(1).replace(" ", "")


@pytest.fixture
def signed_in(alice: Any, client: Client, clock: Any) -> Client:
    assert sign_in_password(client)["Location"] == "/security-info/setup/start/"
    return client


def test_setup_alias_leads_to_sign_in_then_wizard(alice: Any, client: Client, clock: Any) -> None:
    response = client.get("/setup")
    assert response.status_code == 302
    assert response["Location"] == "/security-info/setup/"
    response = client.get("/security-info/setup/")
    assert response["Location"].startswith("/signin/?next=/security-info/setup/")


def test_wizard_adds_authenticator_app(signed_in: Client, clock: Any) -> None:
    page = signed_in.get("/security-info/setup/")
    body = text(page)
    assert "Keep your account secure" in body
    assert "Method 1 of 2: App" in body
    assert "I want to use a different authenticator app" in body
    assert "I want to set up a different method" in body
    assert "Not now (ask me again in 1 day)" in body

    enrol = signed_in.get("/security-info/setup/totp/")
    secret = _secret_on(enrol)
    assert 'src="data:image/svg+xml' in text(enrol)
    # Reloading shows the same QR while the enrolment is valid.
    assert _secret_on(signed_in.get("/security-info/setup/totp/")) == secret
    assert not RegisteredMethod.objects.exists()

    response = signed_in.post(
        "/security-info/setup/totp/", {"code": code_for(secret, clock), "name": "My phone"}
    )
    assert response["Location"] == "/security-info/setup/"
    # The App step is done; the Phone step comes next (and may be skipped).
    assert "Method 2 of 2: Phone" in text(signed_in.get("/security-info/setup/"))
    done = signed_in.get("/security-info/setup/done/")
    assert "Success!" in text(done)
    assert "Authenticator app code (My phone)" in text(done)
    method = RegisteredMethod.objects.get()
    assert method.is_default
    assert method.secret == secret
    assert AuditEvent.objects.filter(action="method.added").count() == 1


def test_wrong_code_saves_nothing(signed_in: Client, clock: Any) -> None:
    secret = _secret_on(signed_in.get("/security-info/setup/totp/"))
    right = code_for(secret, clock)
    response = failed_post(
        signed_in,
        "/security-info/setup/totp/",
        {"code": "000000" if right != "000000" else "111111", "name": "My phone"},
    )
    assert response.status_code == 400
    assert text(response).count("That code is not right") == 1
    # The name typed comes back; the code (a secret) does not, and is not in the session.
    assert 'value="My phone"' in text(response)
    assert "000000" not in str(dict(signed_in.session))
    # Reloading the page shows the same failure, as a GET.
    again = signed_in.get(response.request["PATH_INFO"] + "?" + response.request["QUERY_STRING"])
    assert again.status_code == 400
    assert text(again).count("That code is not right") == 1
    # The form's own address shows it fresh.
    assert "That code is not right" not in text(signed_in.get("/security-info/setup/totp/"))
    assert _secret_on(response) == secret
    assert not RegisteredMethod.objects.exists()
    assert PendingEnrolment.objects.get().consumed is False


@pytest.mark.parametrize("code", ["abc", "12 34", "1234567890", ""])
def test_malformed_enrolment_codes_save_nothing(signed_in: Client, clock: Any, code: str) -> None:
    signed_in.get("/security-info/setup/totp/")
    response = failed_post(signed_in, "/security-info/setup/totp/", {"code": code})
    assert response.status_code == 400
    assert 'class="error"' in text(response)
    assert not RegisteredMethod.objects.exists()


def test_expired_enrolment_says_start_again(signed_in: Client, clock: Any) -> None:
    secret = _secret_on(signed_in.get("/security-info/setup/totp/"))
    clock.advance(601)
    response = failed_post(
        signed_in, "/security-info/setup/totp/", {"code": code_for(secret, clock)}
    )
    assert response.status_code == 410
    assert "Start again" in text(response)
    assert not RegisteredMethod.objects.exists()
    # Starting again shows a new QR code.
    assert _secret_on(signed_in.get("/security-info/setup/totp/")) != secret


def test_post_without_enrolment_is_refused(signed_in: Client, clock: Any) -> None:
    response = failed_post(signed_in, "/security-info/setup/totp/", {"code": "123456"})
    assert response.status_code == 410
    assert not RegisteredMethod.objects.exists()


def test_double_submit_saves_one_method(signed_in: Client, clock: Any) -> None:
    secret = _secret_on(signed_in.get("/security-info/setup/totp/"))
    code = code_for(secret, clock)
    first = signed_in.post("/security-info/setup/totp/", {"code": code})
    second = signed_in.post("/security-info/setup/totp/", {"code": code})
    assert first.status_code == second.status_code == 302
    assert RegisteredMethod.objects.count() == 1


def test_enrolment_code_cannot_be_replayed_at_sign_in(alice: Any, clock: Any) -> None:
    client = Client()
    sign_in_password(client)
    secret = _secret_on(client.get("/security-info/setup/totp/"))
    code = code_for(secret, clock)
    client.post("/security-info/setup/totp/", {"code": code})
    client.post("/signout/")
    sign_in_password(client)
    replay = client.post("/signin/verify/", {"code": code})
    assert replay.status_code == 400
    assert "already been used" in text(replay)
    clock.advance(30)
    assert client.post("/signin/verify/", {"code": code_for(secret, clock)}).status_code == 302


def test_unknown_method_kind_is_404(signed_in: Client) -> None:
    response = signed_in.get("/security-info/setup/carrier-pigeon/")
    assert response.status_code == 404
    assert "That sign-in method does not exist here." in text(response)


def test_choose_method(signed_in: Client) -> None:
    page = signed_in.get("/security-info/setup/choose/")
    assert "Which method would you like to add?" in text(page)
    assert signed_in.post("/security-info/setup/choose/", {"kind": "totp"})["Location"] == (
        "/security-info/setup/totp/"
    )
    bad = failed_post(signed_in, "/security-info/setup/choose/", {"kind": "nope"})
    assert bad.status_code == 400
    assert "Choose one of the methods in the list." in text(bad)


def test_not_now_snoozes_the_campaign_a_limited_number_of_times(
    signed_in: Client, clock: Any, settings: Any
) -> None:
    # Days pass here; the session's idle and absolute limits are not what this test is about.
    settings.VAHVA = {
        **settings.VAHVA,
        "REGISTRATION_MAX_SNOOZES": 2,
        "SESSION_IDLE_TIMEOUT": 7 * 86400,
        "SESSION_MAX_AGE": 7 * 86400,
    }
    wizard = text(signed_in.get("/security-info/setup/"))
    assert "You can put this off 2 more times." in wizard
    assert signed_in.post("/security-info/setup/skip/")["Location"] == "/security-info/"
    snoozed = AuditEvent.objects.get(action="setup.snoozed")
    assert snoozed.data["snoozes_left"] == 1
    # While the snooze holds, signing in goes straight on.
    assert signed_in.get("/security-info/setup/start/?next=/o/x")["Location"] == "/o/x"
    # A day later she is asked again, and may put it off once more...
    clock.advance(86401)
    assert signed_in.get("/security-info/setup/start/")["Location"] == "/security-info/setup/"
    assert "You can put this off 1 more time." in text(signed_in.get("/security-info/setup/"))
    assert signed_in.post("/security-info/setup/skip/").status_code == 302
    clock.advance(86401)
    # ...and then no more: the wizard has no "Not now", and she cannot go around it.
    assert signed_in.get("/security-info/setup/start/")["Location"] == "/security-info/setup/"
    wizard = text(signed_in.get("/security-info/setup/"))
    assert "Not now" not in wizard
    assert "Your organisation requires a sign-in method now" in wizard
    refused = signed_in.post("/security-info/setup/skip/")
    assert refused.status_code == 403
    assert "requires you to set up" in text(refused)
    assert signed_in.get("/o/authorize/?client_id=x")["Location"] == "/security-info/setup/"
    assert signed_in.get("/help/").status_code == 200
    # Registering a method ends it.
    secret = _secret_on(signed_in.get("/security-info/setup/totp/"))
    signed_in.post("/security-info/setup/totp/", {"code": code_for(secret, clock), "name": "P"})
    assert signed_in.get("/o/authorize/?client_id=x").status_code == 400


def test_no_snoozes_means_registering_at_once(
    alice: Any, client: Client, clock: Any, settings: Any
) -> None:
    settings.VAHVA = {**settings.VAHVA, "REGISTRATION_MAX_SNOOZES": 0}
    sign_in_password(client)
    assert client.get("/security-info/setup/start/")["Location"] == "/security-info/setup/"
    assert "Not now" not in text(client.get("/security-info/setup/"))
    assert client.post("/security-info/setup/skip/").status_code == 403
    assert not AuditEvent.objects.filter(action="setup.snoozed").exists()


def test_an_exempted_person_is_not_asked_to_register(
    alice: Any, client: Client, clock: Any
) -> None:
    from vahva.policy import exemptions

    exemptions.grant(
        alice,
        ticket="HD-7",
        reason="no phone",
        expires_at=clock() + dt.timedelta(days=30),
        now=clock(),
    )
    response = sign_in_password(client, next="/security-info/")
    assert response["Location"] == "/security-info/"
    event = AuditEvent.objects.get(action="signin.success")
    assert "exempted until" in event.reason
    assert "(ticket HD-7)" in event.reason


def test_security_info_requires_sign_in(client: Client) -> None:
    assert client.get("/security-info/")["Location"].startswith("/signin/?next=")


def _with_two_methods(client: Client, clock: Any) -> tuple[RegisteredMethod, RegisteredMethod]:
    for name in ("Phone", "Tablet"):
        secret = _secret_on(client.get("/security-info/add/totp/"))
        response = client.post(
            "/security-info/add/totp/", {"code": code_for(secret, clock), "name": name}
        )
        assert response["Location"] == "/security-info/"
    phone, tablet = RegisteredMethod.objects.order_by("pk")
    return phone, tablet


def test_add_change_default_and_remove(signed_in: Client, clock: Any) -> None:
    phone, tablet = _with_two_methods(signed_in, clock)
    info = text(signed_in.get("/security-info/"))
    assert "Authenticator app code (Phone)" in info
    assert "Authenticator app code (Tablet)" in info
    assert phone.is_default
    assert not tablet.is_default

    assert signed_in.post("/security-info/default/", {"method": tablet.pk}).status_code == 302
    tablet.refresh_from_db()
    phone.refresh_from_db()
    assert tablet.is_default
    assert not phone.is_default
    refused = failed_post(
        signed_in, "/security-info/default/", {"method": "x"}, to="/security-info/"
    )
    assert refused.status_code == 400
    assert text(refused).count("Choose one of your own methods.") == 1

    confirm_page = signed_in.get(f"/security-info/remove/{tablet.pk}/")
    assert "Remove <strong>Authenticator app code (Tablet)</strong>?" in text(confirm_page)
    assert signed_in.post(f"/security-info/remove/{tablet.pk}/")["Location"] == "/security-info/"
    remaining = RegisteredMethod.objects.get()
    assert remaining.pk == phone.pk
    assert remaining.is_default
    assert AuditEvent.objects.filter(action="method.removed").count() == 1


def test_removing_later_asks_for_a_code_first(signed_in: Client, clock: Any) -> None:
    phone, tablet = _with_two_methods(signed_in, clock)
    clock.advance(301)  # beyond REAUTH_TTL
    response = signed_in.post(f"/security-info/remove/{tablet.pk}/")
    assert response["Location"] == f"/signin/confirm/?next=/security-info/remove/{tablet.pk}/"
    page = signed_in.get(response["Location"])
    assert "Confirm it's you" in text(page)
    assert RegisteredMethod.objects.count() == 2
    bad = signed_in.post(
        "/signin/confirm/", {"code": "abcdef", "next": f"/security-info/remove/{tablet.pk}/"}
    )
    assert bad.status_code == 400
    code = pyotp.TOTP(RegisteredMethod.objects.get(pk=phone.pk).secret).at(clock())
    ok = signed_in.post(
        "/signin/confirm/", {"code": code, "next": f"/security-info/remove/{tablet.pk}/"}
    )
    assert ok["Location"] == f"/security-info/remove/{tablet.pk}/"
    assert signed_in.post(f"/security-info/remove/{tablet.pk}/").status_code == 302
    assert RegisteredMethod.objects.count() == 1


def test_adding_later_asks_for_a_code_first(signed_in: Client, clock: Any) -> None:
    _with_two_methods(signed_in, clock)
    clock.advance(301)
    response = signed_in.get("/security-info/add/totp/")
    assert response["Location"].startswith("/signin/confirm/")


def test_password_confirm_when_no_methods(signed_in: Client, clock: Any) -> None:
    clock.advance(301)
    page = signed_in.get("/signin/confirm/?next=/security-info/")
    assert 'type="password"' in text(page)
    wrong = signed_in.post("/signin/confirm/", {"password": "nope", "next": "/security-info/"})
    assert wrong.status_code == 400
    ok = signed_in.post("/signin/confirm/", {"password": PASSWORD, "next": "/security-info/"})
    assert ok["Location"] == "/security-info/"


def test_cannot_touch_another_persons_method(signed_in: Client, make_user: Any, clock: Any) -> None:
    from vahva.methods import service

    bob = make_user("bob@example.org")
    bobs = service.save_new(bob, "totp", now=clock(), secret=pyotp.random_base32())
    assert signed_in.get(f"/security-info/remove/{bobs.pk}/").status_code == 404
    info = "/security-info/"
    assert failed_post(signed_in, f"/security-info/remove/{bobs.pk}/", to=info).status_code == 404
    refused = failed_post(signed_in, "/security-info/default/", {"method": bobs.pk}, to=info)
    assert refused.status_code == 400
    assert "Choose one of your own methods." in text(refused)
    assert RegisteredMethod.objects.filter(pk=bobs.pk).exists()


def test_a_temporary_access_pass_cannot_be_set_up_by_the_person(signed_in: Client) -> None:
    for url in ("/security-info/add/tap/", "/security-info/setup/tap/"):
        refused = signed_in.get(url)
        assert refused.status_code == 404
        assert "That sign-in method does not exist here." in text(refused)


def test_success_says_when_the_second_factor_starts(
    signed_in: Client, clock: Any, settings: Any
) -> None:
    # The seeds' organisation: MFA starts about two hours after registering (08:00 UTC + 2 h,
    # shown in Helsinki time), and the wizard's last page says so, as Security info does.
    settings.VAHVA = {**settings.VAHVA, "ACTIVATION_DELAY": 7200}
    secret = _secret_on(signed_in.get("/security-info/setup/totp/"))
    signed_in.post("/security-info/setup/totp/", {"code": code_for(secret, clock)})
    done = text(signed_in.get("/security-info/setup/done/"))
    assert "From 2.3.2026 12:00 on, we'll ask for it when you sign in." in done
    assert "Next time you sign in" not in done
    assert "Multi-factor sign-in will be required from 2.3.2026 12:00." in text(
        signed_in.get("/security-info/")
    )
