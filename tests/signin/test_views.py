"""The sign-in pages as a browser uses them: messages, statuses, and what gets saved."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from tests.helpers import code_for, sign_in_password, text
from vahva.audit.models import AuditEvent
from vahva.policy import campaign
from vahva.signin.attempts import SESSION_ATTEMPT
from vahva.signin.models import SignInAttempt

pytestmark = pytest.mark.django_db


def test_person_without_methods_is_sent_to_the_wizard(
    alice: Any, client: Client, clock: Any
) -> None:
    response = sign_in_password(client)
    assert response.status_code == 302
    assert response["Location"] == "/security-info/setup/start/"
    # The registration campaign sends her on to the wizard.
    assert client.get("/security-info/setup/start/")["Location"] == "/security-info/setup/"
    assert client.get("/security-info/setup/").status_code == 200
    event = AuditEvent.objects.get(action="signin.success")
    assert event.subject_email == "alice@example.org"
    assert "no sign-in method registered" in event.reason


def test_password_then_code_signs_in(
    alice_totp: tuple[Any, str], client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    response = sign_in_password(client)
    assert response["Location"] == "/signin/verify/"
    page = client.get("/signin/verify/")
    assert "Enter the code from your authenticator app" in text(page)
    # Not signed in before the second factor.
    assert client.get("/security-info/").status_code == 302
    response = client.post("/signin/verify/", {"code": code_for(secret, clock)})
    assert response.status_code == 302
    assert response["Location"] == "/security-info/"
    info = client.get("/security-info/")
    assert info.status_code == 200
    assert "Authenticator app code" in text(info)
    assert "Signed in" in text(info)
    attempt = SignInAttempt.objects.get()
    assert attempt.state == "done"
    assert attempt.amr == ["mfa", "otp", "pwd"]


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("", "x", "Enter your e-mail address."),
        ("alice@example.org", "", "Enter your password."),
        ("not-an-address", "x", "Enter your e-mail address, for example"),
        ("x" * 300 + "@example.org", "x", "Ensure this value has at most 254 characters"),
    ],
)
def test_bad_sign_in_forms_get_a_message_and_400(
    alice: Any, client: Client, email: str, password: str, message: str
) -> None:
    response = client.post("/signin/", {"email": email, "password": password})
    assert response.status_code == 400
    assert message in text(response)
    assert not SignInAttempt.objects.exists()


def test_wrong_password_and_unknown_address_look_the_same(alice: Any, client: Client) -> None:
    wrong = sign_in_password(client, password="wrong password")
    unknown = sign_in_password(client, email="nobody@example.org")
    assert wrong.status_code == unknown.status_code == 400
    assert "The e-mail address or the password is not right." in text(wrong)
    assert "The e-mail address or the password is not right." in text(unknown)
    assert not SignInAttempt.objects.exists()
    assert AuditEvent.objects.filter(action="signin.password", outcome="failure").count() == 2


def test_email_is_case_insensitive(alice: Any, client: Client, clock: Any) -> None:
    response = sign_in_password(client, email="  Alice@Example.ORG ")
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        ("12a456", 400, "The code is 6 digits"),
        ("1234567", 400, "The code is 6 digits"),
        ("", 400, "Enter the code."),
        ("x" * 100, 400, "Ensure this value has at most 32 characters"),
    ],
)
def test_malformed_codes(
    alice_totp: tuple[Any, str], client: Client, clock: Any, code: str, status: int, message: str
) -> None:
    sign_in_password(client)
    response = client.post("/signin/verify/", {"code": code})
    assert response.status_code == status
    assert message in text(response)
    assert client.get("/security-info/").status_code == 302


def test_wrong_code_says_so_and_is_logged(
    alice_totp: tuple[Any, str], client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    sign_in_password(client)
    wrong = "000000" if code_for(secret, clock) != "000000" else "111111"
    response = client.post("/signin/verify/", {"code": wrong})
    assert response.status_code == 400
    assert "That code is not right" in text(response)
    assert AuditEvent.objects.filter(action="signin.mfa", outcome="failure").count() == 1


def test_code_with_spaces_is_accepted(
    alice_totp: tuple[Any, str], client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    sign_in_password(client)
    code = code_for(secret, clock)
    response = client.post("/signin/verify/", {"code": f"{code[:3]} {code[3:]}"})
    assert response.status_code == 302


def test_same_code_cannot_sign_in_twice(alice_totp: tuple[Any, str], clock: Any) -> None:
    _method, secret = alice_totp
    code = code_for(secret, clock)
    first, second = Client(), Client()
    sign_in_password(first)
    sign_in_password(second)
    assert first.post("/signin/verify/", {"code": code}).status_code == 302
    response = second.post("/signin/verify/", {"code": code})
    assert response.status_code == 400
    assert "already been used" in text(response)
    assert second.get("/security-info/").status_code == 302


def test_double_submit_of_the_code_lands_signed_in(
    alice_totp: tuple[Any, str], client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    sign_in_password(client)
    code = code_for(secret, clock)
    assert client.post("/signin/verify/", {"code": code})["Location"] == "/security-info/"
    again = client.post("/signin/verify/", {"code": code})
    assert again.status_code == 302
    assert again["Location"] == "/security-info/"
    assert AuditEvent.objects.filter(action="signin.success").count() == 1


def test_attempt_is_bound_to_the_browser_that_started_it(
    alice_totp: tuple[Any, str], clock: Any
) -> None:
    _method, secret = alice_totp
    victim, attacker = Client(), Client()
    sign_in_password(victim)
    attempt_id = victim.session[SESSION_ATTEMPT]
    attacker.get("/signin/")
    session = attacker.session
    session[SESSION_ATTEMPT] = attempt_id  # the attempt id leaked into another browser
    session.save()
    response = attacker.post("/signin/verify/", {"code": code_for(secret, clock)})
    assert response.status_code == 410
    assert "expired" in text(response)
    assert SignInAttempt.objects.get().state == "mfa_required"


def test_attempt_expires(alice_totp: tuple[Any, str], client: Client, clock: Any) -> None:
    _method, secret = alice_totp
    sign_in_password(client)
    clock.advance(601)
    response = client.post("/signin/verify/", {"code": code_for(secret, clock)})
    assert response.status_code == 410
    assert "took too long" in text(response)
    assert SignInAttempt.objects.get().state == "expired"


def test_too_many_wrong_codes_slow_down_then_recover(
    alice_totp: tuple[Any, str], client: Client, clock: Any, settings: Any
) -> None:
    _method, secret = alice_totp
    sign_in_password(client)
    good = code_for(secret, clock)
    wrong = "000000" if good != "000000" else "111111"
    for _ in range(5):
        assert client.post("/signin/verify/", {"code": wrong}).status_code == 400
    blocked = client.post("/signin/verify/", {"code": good})
    assert blocked.status_code == 429
    assert blocked["Retry-After"] == "1"
    assert "Try again in 1 second." in text(blocked)
    clock.advance(1)
    # Even inside the waiting time the right code was not consumed: it still works now.
    assert client.post("/signin/verify/", {"code": good}).status_code == 302


def test_mfa_lock_after_limit_of_consecutive_failures(
    alice_totp: tuple[Any, str], clock: Any, settings: Any
) -> None:
    settings.VAHVA = {
        **settings.VAHVA,
        "THROTTLE_MFA_ACCOUNT": {"free": 100, "base": 1.0, "cap": 1.0, "limit": 3, "forget": None},
    }
    _method, secret = alice_totp
    for _ in range(3):
        client = Client()
        sign_in_password(client)
        client.post(
            "/signin/verify/",
            {"code": "000000" if code_for(secret, clock) != "000000" else "111111"},
        )
    client = Client()
    sign_in_password(client)
    locked = client.post("/signin/verify/", {"code": code_for(secret, clock)})
    assert locked.status_code == 423
    assert "Contact the helpdesk" in text(locked)


def test_password_guessing_does_not_lock_out_a_known_browser(alice: Any, clock: Any) -> None:
    owner = Client()
    assert sign_in_password(owner).status_code == 302  # the owner's browser becomes known
    owner.post("/signout/")
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(6):
        sign_in_password(attacker, password="guess")
    assert sign_in_password(attacker).status_code == 429  # unknown browser: slowed down
    # The owner, from a browser the account has used before, is not affected.
    assert sign_in_password(owner).status_code == 302


def test_password_throttle_per_ip_covers_many_accounts(make_user: Any, clock: Any) -> None:
    attacker = Client(REMOTE_ADDR="203.0.113.10")
    for number in range(20):
        sign_in_password(attacker, email=f"user{number}@example.org", password="guess")
    response = sign_in_password(attacker, email="another@example.org", password="guess")
    assert response.status_code == 429
    assert response["Retry-After"]


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "/\\evil.example"],
)
def test_no_open_redirect_after_sign_in(
    alice_totp: tuple[Any, str], client: Client, clock: Any, target: str
) -> None:
    _method, secret = alice_totp
    sign_in_password(client, next=target)
    response = client.post("/signin/verify/", {"code": code_for(secret, clock)})
    assert response["Location"] == "/security-info/"


def test_local_next_is_followed(alice_totp: tuple[Any, str], client: Client, clock: Any) -> None:
    _method, secret = alice_totp
    sign_in_password(client, next="/help/")
    response = client.post("/signin/verify/", {"code": code_for(secret, clock)})
    assert response["Location"] == "/help/"


def test_csrf_missing_gets_a_clear_403(alice: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    response = sign_in_password(client)
    assert response.status_code == 403
    assert "This form has expired" in text(response)


def test_verify_without_attempt_explains(client: Client) -> None:
    response = client.get("/signin/verify/")
    assert response.status_code == 410
    assert "Start again" in text(response)


def test_activation_delay_postpones_mfa(
    alice: Any, client: Client, clock: Any, settings: Any
) -> None:
    from vahva.methods import service
    from vahva.methods.totp import generate_secret

    settings.VAHVA = {**settings.VAHVA, "ACTIVATION_DELAY": 7200}
    service.save_new(alice, "totp", now=clock(), secret=generate_secret())
    assert sign_in_password(client)["Location"] == "/security-info/"
    info = client.get("/security-info/")
    assert "Multi-factor sign-in will be required from" in text(info)
    client.post("/signout/")
    clock.advance(7200)
    assert sign_in_password(client)["Location"] == "/signin/verify/"


def test_sign_in_another_way_lists_methods(alice: Any, client: Client, clock: Any) -> None:
    from vahva.methods import service
    from vahva.methods.totp import generate_secret

    service.save_new(
        alice, "totp", now=clock() - dt.timedelta(hours=1), secret=generate_secret(), name="Phone"
    )
    second = service.save_new(
        alice, "totp", now=clock() - dt.timedelta(hours=1), secret=generate_secret(), name="Tablet"
    )
    sign_in_password(client)
    page = client.get("/signin/verify/")
    assert "Sign in another way" in text(page)
    other = client.get("/signin/other/")
    assert "Authenticator app code (Tablet)" in text(other)
    chosen = client.get(f"/signin/verify/?method={second.pk}")
    assert "(Tablet)" in text(chosen)
    for bad in ("99999", "abc", "-1", "1e3"):
        refused = client.get(f"/signin/verify/?method={bad}")
        assert refused.status_code == 400
        assert "That sign-in method was not found" in text(refused)
        assert "Authenticator app code (Tablet)" in text(refused)


def test_admin_login_goes_through_vahva_sign_in(make_user: Any, client: Client, clock: Any) -> None:
    make_user("admin@example.org", is_staff=True, is_superuser=True)
    response = client.get("/admin/login/?next=/admin/accounts/user/")
    assert response.status_code == 302
    assert response["Location"] == "/signin/?next=%2Fadmin%2Faccounts%2Fuser%2F"
    # Posting a password to Django's admin login does not sign in.
    client.post(
        "/admin/login/", {"username": "admin@example.org", "password": "correct horse battery"}
    )
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


def test_admin_needs_the_second_factor(make_user: Any, client: Client, clock: Any) -> None:
    from vahva.methods import service
    from vahva.methods.totp import generate_secret

    admin = make_user("admin@example.org", is_staff=True, is_superuser=True)
    secret = generate_secret()
    service.save_new(admin, "totp", now=clock() - dt.timedelta(hours=1), secret=secret)
    response = sign_in_password(client, email="admin@example.org", next="/admin/")
    assert response["Location"] == "/signin/verify/"
    assert client.get("/admin/").status_code == 302
    done = client.post("/signin/verify/", {"code": code_for(secret, clock)})
    assert done["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_reaching_the_lock_is_audited_once(
    alice_totp: tuple[Any, str], clock: Any, settings: Any
) -> None:
    settings.VAHVA = {
        **settings.VAHVA,
        "THROTTLE_MFA_ACCOUNT": {"free": 100, "base": 1.0, "cap": 1.0, "limit": 2, "forget": None},
    }
    _method, secret = alice_totp
    wrong = "000000" if code_for(secret, clock) != "000000" else "111111"
    client = Client()
    sign_in_password(client)
    client.post("/signin/verify/", {"code": wrong})
    assert not AuditEvent.objects.filter(action="signin.locked").exists()
    client.post("/signin/verify/", {"code": wrong})
    client.post("/signin/verify/", {"code": wrong})
    locked = AuditEvent.objects.get(action="signin.locked")
    assert locked.subject_email == "alice@example.org"
    assert locked.reason == "2 consecutive wrong codes"


def test_admin_for_a_signed_in_non_staff_person_is_403_not_a_loop(
    alice: Any, client: Client, clock: Any
) -> None:
    campaign.snooze(alice, now=clock())  # "Not now": she may go elsewhere than the wizard
    sign_in_password(client)
    login = client.get("/admin/", follow=True)
    assert login.status_code == 403
    assert "does not have access to the admin site" in text(login)


def test_with_only_a_pass_left_the_pass_is_asked_then_registration(
    alice_totp: tuple[Any, str], alice: Any, client: Client, clock: Any
) -> None:
    from vahva.methods import service, tap

    method, _secret = alice_totp
    _registered, code = tap.issue(alice, now=clock(), ticket="HD-9")
    # The helpdesk removed the lost phone before Alice used her pass.
    service.remove(alice, method.pk)
    assert sign_in_password(client)["Location"] == "/signin/verify/"
    event = AuditEvent.objects.get(action="signin.password", outcome="ok")
    assert event.reason == "MFA required: the helpdesk issued a temporary access pass"
    done = client.post("/signin/verify/", {"code": code})
    # Signed in with the pass, and on to register a new method.
    assert done["Location"] == "/security-info/setup/start/"
    assert client.get(done["Location"])["Location"] == "/security-info/setup/"
