"""Change password and "Forgot your password?", as a person (and an attacker) uses them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from tests.helpers import code_for, force_mfa_login, text
from vahva.accounts.models import User
from vahva.audit.models import AuditEvent
from vahva.registration import passwords
from vahva.registration.models import PasswordReset

pytestmark = pytest.mark.django_db

NEW = "Tarmac Lantern Orbit 42"


def sent() -> list[Any]:
    passwords.wait_for_mail()
    return list(mail.outbox)


def test_change_password_with_a_second_factor(
    alice_totp: Any, client: Client, clock: Any, django_capture_on_commit_callbacks: Any
) -> None:
    force_mfa_login(client, alice_totp[0].user)
    page = client.get("/security-info/password/")
    assert page.status_code == 200
    wrong = client.post(
        "/security-info/password/", {"current": "nope", "new": NEW, "again": NEW}, follow=True
    )
    # Post/redirect/get: the failure is shown by a GET, and no password is kept for it.
    assert wrong.redirect_chain[0][1] == 303
    assert wrong.status_code == 400
    assert "nope" not in str(dict(client.session))
    assert NEW not in text(wrong)
    assert "The e-mail address or the password is not right." in text(wrong)
    differ = client.post(
        "/security-info/password/",
        {"current": "correct horse battery", "new": NEW, "again": NEW + "x"},
        follow=True,
    )
    assert "The two passwords are not the same." in text(differ)
    common = client.post(
        "/security-info/password/",
        {"current": "correct horse battery", "new": "password123", "again": "password123"},
        follow=True,
    )
    assert common.status_code == 400
    assert "This password is too common." in text(common)
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            "/security-info/password/",
            {"current": "correct horse battery", "new": NEW, "again": NEW},
        )
    assert done.status_code == 302
    assert done["Location"] == "/security-info/password/changed/"
    alice = User.objects.get(email="alice@example.org")
    assert alice.check_password(NEW)
    # This browser stays signed in; the person hears of the change by e-mail.
    assert client.get("/security-info/").status_code == 200
    (message,) = sent()
    assert message.to == ["alice@example.org"]
    assert "Your password was changed" in message.subject
    assert AuditEvent.objects.filter(action="password.changed").exists()


def test_change_password_asks_for_a_second_factor_first(
    alice_totp: Any, client: Client, clock: Any
) -> None:
    force_mfa_login(client, alice_totp[0].user)
    for without in ("pwd", ""):  # confirmed with the password; signed in on a trusted network
        session = client.session
        session["vahva_auth"] = {**session["vahva_auth"], "method": without}
        session.save()
        response = client.get("/security-info/password/")
        assert response.status_code == 302
        assert response["Location"] == "/signin/confirm/?next=/security-info/password/"
    clock.advance(3600)
    force_mfa_login(client, alice_totp[0].user)
    clock.advance(3600)  # confirmed too long ago
    assert client.get("/security-info/password/").status_code == 302


def test_sign_out_everywhere_else(alice_totp: Any, client: Client, clock: Any) -> None:
    alice = alice_totp[0].user
    other = Client()
    force_mfa_login(other, alice)
    force_mfa_login(client, alice)
    client.post(
        "/security-info/password/",
        {"current": "correct horse battery", "new": NEW, "again": NEW},
    )
    page = client.post("/security-info/password/sign-out-others/", follow=True)
    assert page.redirect_chain == [("/security-info/password/changed/", 302)]
    assert "You are signed out everywhere else." in text(page)
    # Post/redirect/get: a reload is a GET that signs nobody out again and says it once.
    assert "You are signed out everywhere else." not in text(
        client.get("/security-info/password/changed/")
    )
    assert client.get("/security-info/").status_code == 200
    assert other.get("/security-info/").status_code == 302


def _link() -> str:
    (message,) = [m for m in sent() if "new password" in m.subject.lower()]
    found = re.search(r"https?://\S+/password/reset/(\S+)/", message.body)
    assert found is not None
    return f"/password/reset/{found.group(1)}/"


def test_the_sign_in_page_offers_forgot_your_password(client: Client, db: Any) -> None:
    page = client.get("/signin/")
    assert 'href="/password/forgot/"' in text(page)


def test_forgot_password_looks_the_same_for_unknown_addresses(
    alice: Any, client: Client, clock: Any
) -> None:
    known = client.post("/password/forgot/", {"email": "alice@example.org"}, follow=True)
    unknown = client.post("/password/forgot/", {"email": "mallory@example.org"}, follow=True)
    assert known.status_code == unknown.status_code == 200
    assert known.redirect_chain == unknown.redirect_chain == [("/password/forgot/sent/", 302)]
    strip = lambda r: re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text(r))  # noqa: E731
    assert strip(known) == strip(unknown)
    assert [m.to for m in sent()] == [["alice@example.org"]]


def test_reset_by_link_and_second_factor(alice_totp: Any, client: Client, clock: Any) -> None:
    _method, secret = alice_totp
    signed_in = Client()
    force_mfa_login(signed_in, alice_totp[0].user)
    client.post("/password/forgot/", {"email": "Alice@Example.org"})
    link = _link()
    opened = client.get(link)
    assert opened.status_code == 302
    assert opened["Location"] == "/password/reset/"
    # The link alone is not enough (a stolen mailbox): a new password is not taken yet.
    early = client.post("/password/reset/", {"new": NEW, "again": NEW}, follow=True)
    assert early.status_code == 400
    assert "Enter the code from your authenticator app" in text(client.get("/password/reset/"))
    assert client.post("/password/reset/", {"code": "000000"}, follow=True).status_code == 400
    assert client.post("/password/reset/", {"code": code_for(secret, clock)}).status_code == 302
    done = client.post("/password/reset/", {"new": NEW, "again": NEW}, follow=True)
    assert done.redirect_chain == [("/password/reset/finished/", 302)]
    assert "Your new password is saved" in text(done)
    # Reloading the page (a GET) shows it again and posts nothing.
    assert "Your new password is saved" in text(client.get("/password/reset/finished/"))
    alice = User.objects.get(email="alice@example.org")
    assert alice.check_password(NEW)
    # Whoever was signed in with the old password is signed out.
    assert signed_in.get("/security-info/").status_code == 302
    # Single use.
    again = Client().get(link)
    assert again.status_code == 410
    assert "This link has expired or has already been used." in text(again)


def test_reloading_the_sent_page_sends_no_other_mail(alice: Any, client: Client) -> None:
    # The "check your mail" page is reached by a redirect: Back or reload is a GET, never
    # "Confirm Form Resubmission" that would send another link.
    sent_page = client.post("/password/forgot/", {"email": "alice@example.org"})
    assert sent_page.status_code == 302
    for _ in range(2):
        assert client.get(sent_page["Location"]).status_code == 200
    assert len(sent()) == 1


def test_the_finished_page_is_only_shown_after_a_reset(client: Client, db: Any) -> None:
    page = client.get("/password/reset/finished/")
    assert page.status_code == 302
    assert page["Location"] == "/signin/"


def test_a_reset_link_expires_after_15_minutes(alice_totp: Any, client: Client, clock: Any) -> None:
    client.post("/password/forgot/", {"email": "alice@example.org"})
    link = _link()
    clock.advance(15 * 60 + 1)
    assert client.get(link).status_code == 410


def test_a_reset_link_is_stored_hashed(alice: Any, client: Client, clock: Any) -> None:
    client.post("/password/forgot/", {"email": "alice@example.org"})
    token = _link().split("/")[-2]
    row = PasswordReset.objects.get(user=alice)
    assert token not in row.token_hash
    assert len(row.token_hash) == 64


def test_reset_requests_are_limited_per_address_and_per_client(
    alice: Any, client: Client, clock: Any, settings: Any
) -> None:
    for _ in range(3):
        assert client.post("/password/forgot/", {"email": "alice@example.org"}).status_code == 302
    limited = client.post("/password/forgot/", {"email": "alice@example.org"}, follow=True)
    assert limited.status_code == 429
    assert "Too many requests for a new password." in text(limited)
    assert len(sent()) == 3
    settings.VAHVA = {**settings.VAHVA, "PASSWORD_RESET_PER_CLIENT": 5}
    codes = [
        client.post("/password/forgot/", {"email": f"p{i}@example.org"}, follow=True).status_code
        for i in range(3)
    ]
    # 4 of this client's requests were counted already: one more is allowed.
    assert codes == [200, 429, 429]
    clock.advance(3601)
    assert client.post("/password/forgot/", {"email": "alice@example.org"}).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_a_parallel_burst_gets_no_more_links_than_the_limit(make_user: Any, clock: Any) -> None:
    import threading

    from django.db import connection

    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(":memory"):
        pytest.skip("needs a database shared between threads")
    alice = make_user()
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def ask() -> None:
        try:
            client = Client()
            barrier.wait()
            statuses.append(
                client.post(
                    "/password/forgot/", {"email": "alice@example.org"}, follow=True
                ).status_code
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    passwords.wait_for_mail()
    assert len(statuses) == 8
    assert set(statuses) <= {200, 429}
    links = PasswordReset.objects.filter(user=alice).exclude(token_hash="").count()
    assert links <= 3
    assert statuses.count(200) == links
    assert len(mail.outbox) == links


def test_a_reset_needs_a_method_that_shows_a_code(alice: Any, client: Client, clock: Any) -> None:
    client.post("/password/forgot/", {"email": "alice@example.org"})
    client.get(_link())
    page = client.get("/password/reset/")
    # Without a second factor, a link from the mailbox alone would be a takeover: no reset.
    assert page.status_code == 409
    assert "Contact the helpdesk" in text(page)
    refused = client.post("/password/reset/", {"new": NEW, "again": NEW})
    assert refused.status_code == 409
    alice.refresh_from_db()
    assert alice.check_password("correct horse battery")
