"""Recovery codes on Security info and at sign-in: shown once, used once, replaced whole."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import pytest
from django.test import Client

from tests.helpers import code_for, sign_in_password, text
from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.methods.models import RegisteredMethod
from vahva.methods.recovery_codes.models import RecoveryCode

pytestmark = pytest.mark.django_db

# Five groups of five of Crockford's base32 (25 characters: a 2-character index, 115 bits).
GROUP = "[0-9A-HJKMNP-TV-Z]{5}"
CODE = re.compile(rf'<code class="secret">((?:{GROUP}-){{4}}{GROUP})</code>')
WRONG = "22222-22222-22222-22222-22222"


@pytest.fixture
def signed_in(alice_totp: tuple[Any, str], client: Client, clock: FakeClock) -> Client:
    _method, secret = alice_totp
    assert sign_in_password(client)["Location"] == "/signin/verify/"
    assert client.post("/signin/verify/", {"code": code_for(secret, clock)}).status_code == 302
    return client


def make_codes(client: Client) -> list[str]:
    page = client.get("/security-info/add/recovery/")
    assert page.status_code == 200
    codes = CODE.findall(text(page))
    assert len(codes) == 10
    response = client.post("/security-info/add/recovery/", {"code": codes[0]})
    assert response.status_code == 302
    return codes


def test_codes_are_shown_once_for_copy_download_and_print(signed_in: Client) -> None:
    page = signed_in.get("/security-info/add/recovery/")
    body = text(page)
    codes = CODE.findall(body)
    assert len(set(codes)) == 10
    # The same codes on a reload until they are confirmed...
    assert CODE.findall(text(signed_in.get("/security-info/add/recovery/"))) == codes
    download = re.search(
        r'download="recovery-codes.txt" href="data:text/plain;charset=utf-8,([^"]+)"', body
    )
    assert download
    assert all(code in unquote(download.group(1)) for code in codes)
    assert 'id="copy"' in body
    assert 'id="print"' in body
    assert "methods/recovery.js" in body
    wrong = signed_in.post("/security-info/add/recovery/", {"code": WRONG}, follow=True)
    assert wrong.status_code == 400
    assert "not one of the codes shown" in text(wrong)
    assert not RegisteredMethod.objects.filter(kind="recovery").exists()
    signed_in.post("/security-info/add/recovery/", {"code": codes[5]})
    # ...and never again afterwards.
    info = text(signed_in.get("/security-info/"))
    assert "Your recovery codes are saved: 10 codes, each for one sign-in." in info
    assert "Recovery codes (10 of 10 left)" in info
    assert "10 of 10 recovery codes left." in info
    assert not any(code in info for code in codes)
    assert not set(codes) & set(CODE.findall(text(signed_in.get("/security-info/add/recovery/"))))


def test_codes_are_not_offered_as_the_default(signed_in: Client) -> None:
    make_codes(signed_in)
    codes = RegisteredMethod.objects.get(kind="recovery")
    info = text(signed_in.get("/security-info/"))
    assert f'<option value="{codes.pk}"' not in info
    response = signed_in.post("/security-info/default/", {"method": codes.pk}, follow=True)
    assert response.status_code == 400


def test_signing_in_with_a_code_under_sign_in_another_way(
    signed_in: Client, client: Client, clock: FakeClock
) -> None:
    codes = make_codes(signed_in)
    signed_in.post("/signout/")
    assert sign_in_password(client)["Location"] == "/signin/verify/"
    # The default (the app) is asked first; the codes come last among the other ways.
    assert "Enter the code from your authenticator app" in text(client.get("/signin/verify/"))
    other = text(client.get("/signin/other/"))
    assert other.index("Authenticator app code") < other.index("Recovery codes (10 of 10 left)")
    recovery = RegisteredMethod.objects.get(kind="recovery")
    page = client.get(f"/signin/verify/?method={recovery.pk}")
    assert "Enter one of your recovery codes" in text(page)
    assert "You have 10 unused codes." in text(page)
    wrong = client.post(f"/signin/verify/?method={recovery.pk}", {"code": WRONG})
    assert wrong.status_code == 400
    assert "That recovery code is not right" in text(wrong)
    assert WRONG not in text(wrong)
    response = client.post(f"/signin/verify/?method={recovery.pk}", {"code": codes[1].lower()})
    assert response.status_code == 302
    info = text(client.get("/security-info/"))
    assert "You used a recovery code. 9 codes are left." in info
    assert "9 of 10 recovery codes left." in info
    assert 'id="recovery-uses"' in info
    assert AuditEvent.objects.filter(action="recovery.used").count() == 1
    assert AuditEvent.objects.get(action="signin.success", data__method="recovery").data["amr"] == [
        "mfa",
        "otp",
        "pwd",
    ]
    # Used once: the same code at the next sign-in is refused.
    client.post("/signout/")
    sign_in_password(client)
    again = client.post(f"/signin/verify/?method={recovery.pk}", {"code": codes[1]})
    assert again.status_code == 400
    assert "already used" in text(again)


def test_making_new_codes_needs_a_recent_proof_and_replaces_all(
    signed_in: Client, clock: FakeClock
) -> None:
    old = make_codes(signed_in)
    clock.advance(600)  # past REAUTH_TTL, within the session's idle timeout
    response = signed_in.get("/security-info/add/recovery/")
    assert response["Location"].startswith("/signin/confirm/")
    # A recovery code is not spent on confirming: the app's code is asked.
    assert "Enter the code from your authenticator app" in text(signed_in.get(response["Location"]))
    secret = RegisteredMethod.objects.get(kind="totp").secret
    signed_in.post("/signin/confirm/", {"code": code_for(secret, clock), "next": ""})
    page = text(signed_in.get("/security-info/add/recovery/"))
    assert "These new codes replace your current ones (10 left)" in page
    new = CODE.findall(page)
    signed_in.post("/security-info/add/recovery/", {"code": new[0]})
    assert RegisteredMethod.objects.filter(kind="recovery").count() == 1
    assert RecoveryCode.objects.count() == 10
    assert AuditEvent.objects.filter(action="recovery.regenerated").count() == 1
    assert not set(old) & set(new)


def test_used_up_codes_say_so(signed_in: Client, client: Client, clock: FakeClock) -> None:
    codes = make_codes(signed_in)
    recovery = RegisteredMethod.objects.get(kind="recovery")
    RecoveryCode.objects.update(used_at=clock())
    info = text(signed_in.get("/security-info/"))
    assert "You have used all your recovery codes." in info
    signed_in.post("/signout/")
    sign_in_password(client)
    page = client.get(f"/signin/verify/?method={recovery.pk}")
    assert page.status_code == 410
    assert "You have used all your recovery codes." in text(page)
    response = client.post(f"/signin/verify/?method={recovery.pk}", {"code": codes[2]})
    assert response.status_code == 410
