"""Sign in another way: one number both ways (a text, a call), and a hand-made choice refused
(issue #19 item 5)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.test import Client

from tests.helpers import sign_in_password, text
from tests.methods.phone_helpers import NUMBER
from vahva.methods import service
from vahva.methods.phone.models import PhoneCall, PhoneCode
from vahva.methods.totp import generate_secret


def test_a_number_for_texts_is_offered_for_a_call_too(
    alice: Any, client: Client, clock: Any
) -> None:
    sms = service.save_new(
        alice, "sms", now=clock() - dt.timedelta(hours=3), data={"number": NUMBER}
    )
    sign_in_password(client)
    page = text(client.get("/signin/other/"))
    assert f'href="/signin/verify/?method={sms.pk}"' in page
    assert f'href="/signin/verify/?method={sms.pk}&amp;by=voice"' in page
    assert "Call +358 44 *** **21" in page
    called = client.get(f"/signin/verify/?method={sms.pk}&by=voice")
    assert called.status_code == 200
    assert "We're calling your phone +358 44 *** **21" in text(called)
    # The call is made for the number registered for texts, and no text went.
    assert PhoneCall.objects.filter(registered=sms).count() == 1
    assert not PhoneCode.objects.filter(registered=sms).exists()
    # The page waits on the call, not on a text.
    status = client.get(f"/signin/verify/status/?method={sms.pk}&by=voice")
    assert status.json() == {"state": "pending"}


def test_a_hand_made_choice_rings_nothing(alice: Any, client: Client, clock: Any) -> None:
    """An address that asks an authenticator app's registration to be called: refused, and no
    call goes anywhere (a method answers only for what can answer for it)."""
    totp = service.save_new(
        alice, "totp", now=clock() - dt.timedelta(hours=3), secret=generate_secret()
    )
    sign_in_password(client)
    refused = client.get(f"/signin/verify/?method={totp.pk}&by=voice")
    assert refused.status_code == 400
    assert "Sign in another way" in text(refused)
    assert not PhoneCall.objects.exists()
    assert (
        client.post(f"/signin/verify/?method={totp.pk}&by=voice", {"code": "123456"}).status_code
        == 400
    )
    assert client.get(f"/signin/verify/status/?method={totp.pk}&by=voice").status_code == 400
