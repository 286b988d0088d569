"""Remembered browsers ("Don't ask again on this device for N days") and signing out
everywhere: what the person sees, what is stored, and what forgets them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from tests.helpers import code_for, sign_in_password, text
from vahva.audit.models import AuditEvent
from vahva.methods import service
from vahva.methods.totp import generate_secret
from vahva.signin import remembered
from vahva.signin.models import RememberedDevice

pytestmark = pytest.mark.django_db

OFFER = "Don't ask again on this device for 30 days"
LATER = dt.timedelta(days=30)


@pytest.fixture
def remember_30(settings: Any) -> None:
    settings.VAHVA = {**settings.VAHVA, "REMEMBER_DEVICE_DAYS": 30}


def _sign_in_with_code(client: Client, secret: str, clock: Any, *, remember: bool) -> Any:
    assert sign_in_password(client)["Location"] == "/signin/verify/"
    page = client.get("/signin/verify/")
    assert OFFER in text(page)
    form = {"code": code_for(secret, clock), **({"remember": "on"} if remember else {})}
    return client.post("/signin/verify/", form)


def test_not_offered_unless_configured(
    alice_totp: tuple[Any, str], client: Client, clock: Any
) -> None:
    sign_in_password(client)
    assert "ask again on this device" not in text(client.get("/signin/verify/"))


def test_a_remembered_browser_skips_the_second_factor_until_the_date(
    remember_30: None, alice_totp: tuple[Any, str], client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    done = _sign_in_with_code(client, secret, clock, remember=True)
    assert done.status_code == 302
    cookie = done.cookies[remembered.COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    device = RememberedDevice.objects.get()
    # Only the token's hash is stored.
    assert device.digest != cookie.value
    assert cookie.value not in str(list(RememberedDevice.objects.values()))

    info = text(client.get("/security-info/"))
    assert "Browsers that don't ask for a second factor" in info
    assert "This browser" in info

    client.post("/signout/")
    again = sign_in_password(client)
    assert again["Location"] == "/security-info/"
    event = AuditEvent.objects.filter(action="signin.success").order_by("-id")[0]
    assert "this browser is remembered until" in event.reason

    # After 30 days the browser is asked again.
    client.post("/signout/")
    clock.advance(30 * 86400 + 1)
    assert sign_in_password(client)["Location"] == "/signin/verify/"


def test_unticked_means_asked_next_time(
    remember_30: None, alice_totp: tuple[Any, str], client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    _sign_in_with_code(client, secret, clock, remember=False)
    assert not RememberedDevice.objects.exists()
    client.post("/signout/")
    assert sign_in_password(client)["Location"] == "/signin/verify/"


def test_the_token_is_bound_to_its_person(
    remember_30: None, alice_totp: tuple[Any, str], make_user: Any, client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    done = _sign_in_with_code(client, secret, clock, remember=True)
    token = done.cookies[remembered.COOKIE].value
    bob = make_user("bob@example.org")
    service.save_new(bob, "totp", now=clock() - LATER, secret=generate_secret())
    # Alice's token in Bob's browser (or a stolen one) does not spare Bob his second factor.
    other = Client()
    other.cookies[remembered.COOKIE] = token
    assert sign_in_password(other, email="bob@example.org")["Location"] == "/signin/verify/"
    # Nor does a forged cookie.
    forged = Client()
    forged.cookies[remembered.COOKIE] = "A" * 43 + "." + "x" * 5000
    assert sign_in_password(forged)["Location"] == "/signin/verify/"


def test_forget_one_and_all_on_security_info(
    remember_30: None, alice_totp: tuple[Any, str], alice: Any, client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    _sign_in_with_code(client, secret, clock, remember=True)
    device = RememberedDevice.objects.get()
    # Another person's id: refused (said on Security info, post/redirect/get), nothing forgotten.
    refused = client.post("/security-info/remembered/999/forget/", follow=True)
    assert refused.status_code == 404
    assert "That browser is not remembered any more." in text(refused)
    assert RememberedDevice.objects.exists()
    done = client.post(f"/security-info/remembered/{device.pk}/forget/")
    assert done["Location"] == "/security-info/"
    assert not RememberedDevice.objects.exists()
    assert "That browser will ask for a second factor again." in text(client.get("/security-info/"))
    RememberedDevice.objects.create(
        user=alice, digest="a" * 64, created_at=clock(), expires_at=clock() + LATER
    )
    RememberedDevice.objects.create(
        user=alice, digest="b" * 64, created_at=clock(), expires_at=clock() + LATER
    )
    client.post("/security-info/remembered/forget/")
    assert not RememberedDevice.objects.exists()
    assert AuditEvent.objects.filter(action="remembered.forgotten").count() == 2


def test_a_new_password_forgets_them_but_a_hash_upgrade_does_not(
    remember_30: None, alice_totp: tuple[Any, str], alice: Any, client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    _sign_in_with_code(client, secret, clock, remember=True)
    alice.check_password("correct horse battery")  # may upgrade the hash: not a change
    assert RememberedDevice.objects.count() == 1
    alice.set_password("a brand new passphrase")
    alice.save()
    assert not RememberedDevice.objects.exists()
    assert AuditEvent.objects.get(action="remembered.forgotten").reason == "password changed"


def test_sign_out_everywhere_ends_sessions_and_forgets_browsers(
    remember_30: None, alice_totp: tuple[Any, str], alice: Any, client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    _sign_in_with_code(client, secret, clock, remember=True)
    other = Client()
    clock.advance(30)
    assert sign_in_password(other)["Location"] == "/signin/verify/"
    other.post("/signin/verify/", {"code": code_for(secret, clock)})
    assert other.get("/security-info/").status_code == 200

    alice.sign_out_everywhere()

    for browser in (client, other):
        assert browser.get("/security-info/")["Location"].startswith("/signin/")
    assert not RememberedDevice.objects.exists()
    assert AuditEvent.objects.get(action="remembered.forgotten").reason == "signed out everywhere"


CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)


def _browsers(client: Client, language: str) -> list[str]:
    """The names in the remembered browsers' list, as Security info shows them in
    ``language``."""
    import re

    from django.conf import settings

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = text(client.get("/security-info/"))
    section = re.search(r'<section class="card" id="remembered">(.*?)</section>', page, re.S)
    assert section, "no remembered browsers' section"
    cells = re.findall(r"<tr>\s*<td>(.*?)(?: <span|</td>)", section.group(1), re.S)
    return sorted(cell.strip() for cell in cells)


def test_the_browsers_name_is_said_in_the_language_of_the_page(
    remember_30: None, alice_totp: tuple[Any, str], clock: Any
) -> None:
    """Stored as names only ("Chrome/Linux"), worded when shown: a Finnish or Swedish page
    does not say "Chrome on Linux" or "A browser" in English. Rows saved before, in English,
    are worded the same way."""
    method, secret = alice_totp
    client = Client(HTTP_USER_AGENT=CHROME_LINUX)
    assert _sign_in_with_code(client, secret, clock, remember=True).status_code == 302
    assert RememberedDevice.objects.get().label == "Chrome/Linux"
    for old in ("Firefox on Windows", "A browser", "", "Safari/"):
        RememberedDevice.objects.create(
            user=method.user,
            digest=f"{len(old):064d}",
            created_at=clock(),
            expires_at=clock() + LATER,
            label=old,
        )

    assert _browsers(client, "en") == [
        "A browser",
        "A browser",
        "Chrome on Linux",
        "Firefox on Windows",
        "Safari",
    ]
    assert _browsers(client, "fi") == [
        "Chrome (Linux)",
        "Firefox (Windows)",
        "Safari",
        "Selain",
        "Selain",
    ]
    assert _browsers(client, "sv") == [
        "Chrome på Linux",
        "En webbläsare",
        "En webbläsare",
        "Firefox på Windows",
        "Safari",
    ]
