"""People see where they are signed in and end those sessions (Security info), and the
helpdesk's "sign out everywhere" is the same function; the services' tokens go with them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.helpdesk.conftest import grant_helpdesk
from tests.helpers import sign_in_password, text
from tests.oidc.helpers import authorize_url, code_from, exchange
from vahva.audit.models import AuditEvent
from vahva.sessions.models import BrowserSession

from .conftest import FIREFOX_WINDOWS, SAFARI_IPHONE

pytestmark = pytest.mark.django_db


def signed_in(client: Client) -> bool:
    return client.get("/security-info/").status_code == 200


def sessions_section(client: Client) -> str:
    page = text(client.get("/security-info/"))
    match = re.search(r'<section class="card" id="sessions">(.*?)</section>', page, re.S)
    assert match, "no 'Where you're signed in' section"
    return match.group(1)


def row_id(label: str) -> int:
    return BrowserSession.objects.get(label=label).pk


def tokens_for(client: Client, service: Any) -> dict[str, Any]:
    """A service signs alice in through this (signed-in) browser and gets its tokens."""
    code = code_from(client.get(authorize_url(service.client_id)))
    response = exchange(client, service, code)
    assert response.status_code == 200, response.content
    tokens: dict[str, Any] = response.json()
    return tokens


def refresh_works(client: Client, service: Any, tokens: dict[str, Any]) -> bool:
    response = exchange(
        client, service, "", grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    if response.status_code == 200:
        tokens.update(response.json())  # rotated: keep the new one
        return True
    return False


def test_security_info_lists_each_browser(new_browser: Callable[..., Client], clock: Any) -> None:
    laptop = new_browser()
    clock.advance(120)
    new_browser(agent=FIREFOX_WINDOWS, ip="203.0.113.9")
    section = sessions_section(laptop)
    assert "<h2>Where you're signed in</h2>" in section
    assert "Chrome on Linux" in section
    assert "Firefox on Windows" in section
    assert "198.51.100.7" in section
    assert "203.0.113.9" in section
    # This browser: a badge and the normal sign-out, not a button that would end it here.
    this_row = re.search(r'<tr class="this-browser">(.*?)</tr>', section, re.S)
    assert this_row
    assert "Chrome on Linux" in this_row.group(1)
    assert "This browser" in this_row.group(1)
    assert f"/security-info/sessions/{row_id('Chrome/Linux')}/sign-out/" not in section
    assert f"/security-info/sessions/{row_id('Firefox/Windows')}/sign-out/" in section
    assert "Sign out everywhere else" in section
    # First and last seen.
    assert "2.3.2026 10:00" in section
    assert "2.3.2026 10:02" in section


def test_sign_out_one_browser_ends_it_and_its_services_tokens(
    new_browser: Callable[..., Client], alice: Any, mail: Any, clock: Any
) -> None:
    laptop = new_browser()
    phone = new_browser(agent=SAFARI_IPHONE, ip="203.0.113.20")
    laptop_tokens = tokens_for(laptop, mail)
    phone_tokens = tokens_for(phone, mail)
    # The service column names who holds tokens from each session.
    section = sessions_section(laptop)
    assert section.count("Mail") == 2

    response = laptop.post(f"/security-info/sessions/{row_id('Safari/iPhone')}/sign-out/")
    assert response.status_code == 302
    assert "Safari on iPhone was signed out." in text(laptop.get(response["Location"]))

    # Really gone: the phone's next page asks to sign in again, saying why.
    answer = phone.get("/security-info/")
    assert answer.status_code == 302
    assert answer["Location"].startswith("/signin/")
    assert "signed out from another browser" in text(phone.get(answer["Location"]))
    # The tokens the mail service got through the phone's session stop working; the laptop's
    # do not.
    assert not refresh_works(laptop, mail, phone_tokens)
    userinfo = laptop.get(
        "/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {phone_tokens['access_token']}"
    )
    assert userinfo.status_code == 401
    assert refresh_works(laptop, mail, laptop_tokens)
    assert signed_in(laptop)
    ended = AuditEvent.objects.get(action="session.ended")
    assert ended.subject_id == alice.pk
    assert ended.actor_id == alice.pk
    assert ended.reason == "signed out from another browser"
    assert ended.data["browser"] == "Safari/iPhone"  # names only, in no language
    assert AuditEvent.objects.get(action="oidc.tokens_revoked").data["count"] == 1


def test_sign_out_everywhere_else_keeps_this_browser(
    new_browser: Callable[..., Client], mail: Any, clock: Any
) -> None:
    laptop = new_browser()
    others = [new_browser(agent=FIREFOX_WINDOWS), new_browser(agent=SAFARI_IPHONE)]
    laptop_tokens = tokens_for(laptop, mail)
    other_tokens = tokens_for(others[0], mail)

    response = laptop.post("/security-info/sessions/sign-out/")
    assert "2 other browsers were signed out." in text(laptop.get(response["Location"]))
    assert signed_in(laptop)
    assert not any(signed_in(other) for other in others)
    assert (
        AuditEvent.objects.filter(
            action="session.ended", reason="signed out everywhere else"
        ).count()
        == 2
    )
    assert not refresh_works(laptop, mail, other_tokens)
    assert refresh_works(laptop, mail, laptop_tokens)
    assert "Sign out everywhere else" not in sessions_section(laptop)


def test_ending_someone_else_s_session_by_id_is_refused(
    new_browser: Callable[..., Client], make_user: Any, clock: Any
) -> None:
    alice_browser = new_browser()
    bob = make_user("bob@example.org", full_name="Bob")
    mallory = Client(HTTP_USER_AGENT=FIREFOX_WINDOWS)
    sign_in_password(mallory, email="bob@example.org")
    alice_row = BrowserSession.objects.exclude(user=bob).get()

    response = mallory.post(f"/security-info/sessions/{alice_row.pk}/sign-out/")
    assert response.status_code == 404
    assert "That session is not one of yours" in text(response)
    assert signed_in(alice_browser)
    assert BrowserSession.objects.filter(pk=alice_row.pk).exists()
    # Nor can "everywhere else" reach her sessions.
    mallory.post("/security-info/sessions/sign-out/")
    assert signed_in(alice_browser)
    assert not AuditEvent.objects.filter(action="session.ended").exists()
    # Nonsense ids are a 404 too, never a 500.
    assert mallory.post("/security-info/sessions/99999999/sign-out/").status_code == 404


def test_this_browser_is_not_ended_by_the_row_button(
    new_browser: Callable[..., Client], clock: Any
) -> None:
    laptop = new_browser()
    response = laptop.post(f"/security-info/sessions/{row_id('Chrome/Linux')}/sign-out/")
    assert response.status_code == 404
    assert signed_in(laptop)


def test_sign_out_takes_a_post_with_the_csrf_token(
    new_browser: Callable[..., Client], alice: Any, clock: Any
) -> None:
    victim_phone = new_browser(agent=SAFARI_IPHONE)
    laptop = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=FIREFOX_WINDOWS)
    laptop.force_login(alice)
    target = f"/security-info/sessions/{row_id('Safari/iPhone')}/sign-out/"
    # A link or an image on another site: GET does nothing.
    assert laptop.get(target).status_code == 405
    # A cross-site form post: no CSRF token, refused.
    assert laptop.post(target).status_code == 403
    assert laptop.post("/security-info/sessions/sign-out/").status_code == 403
    assert signed_in(victim_phone)
    assert not AuditEvent.objects.filter(action="session.ended").exists()


def test_signing_out_here_removes_the_row(new_browser: Callable[..., Client]) -> None:
    laptop = new_browser()
    laptop.post("/signout/")
    assert not BrowserSession.objects.exists()


def test_the_helpdesk_signs_out_everywhere_with_the_same_function(
    new_browser: Callable[..., Client], alice: Any, mail: Any, clock: Any
) -> None:
    from vahva.helpdesk import service as helpdesk

    helen = grant_helpdesk(
        type(alice).objects.create_user(
            "helen@example.org", "correct horse battery", full_name="Helen", is_staff=True
        )
    )
    laptop, phone = new_browser(), new_browser(agent=SAFARI_IPHONE)
    tokens = tokens_for(phone, mail)
    helpdesk.sign_out_everywhere(alice, ticket="INC-42", actor=helen, request=None)
    assert not signed_in(laptop)
    assert not signed_in(phone)
    assert not refresh_works(laptop, mail, tokens)
    ended = AuditEvent.objects.filter(action="session.ended")
    assert ended.count() == 2
    assert {e.reason for e in ended} == {"signed out by the helpdesk (INC-42)"}
    assert {e.actor_id for e in ended} == {helen.pk}
