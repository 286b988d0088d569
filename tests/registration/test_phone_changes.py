"""Security info's phone actions: Text <-> Call for the same number, and Change number through
the phone enrolment (the new number proved, then the old phone replaced in one go)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyotp
import pytest
from django.test import Client

from tests.helpers import sign_in_password, text
from tests.methods.phone_helpers import NUMBER, answer_and_press, last_code, texts
from tests.registration.prg import failed_post
from vahva.audit.models import AuditEvent
from vahva.methods import service
from vahva.methods.models import PendingEnrolment, RegisteredMethod

pytestmark = pytest.mark.django_db

NEW = "+358441234522"
INFO = "/security-info/"


@pytest.fixture
def signed_in(alice: Any, client: Client, clock: Any) -> Client:
    assert sign_in_password(client)["Location"] == "/security-info/setup/start/"
    return client


@pytest.fixture
def mobile(alice: Any, clock: Any) -> RegisteredMethod:
    """Alice's texted phone, her default, added yesterday and named "Mobile"."""
    return service.save_new(
        alice, "sms", now=clock() - dt.timedelta(days=1), name="Mobile", data={"number": NUMBER}
    )


def _delivery(method: RegisteredMethod) -> str:
    return f"/security-info/methods/{method.pk}/delivery/"


def _change(method: RegisteredMethod, kind: str = "sms") -> str:
    return f"/security-info/add/{kind}/?replace={method.pk}"


def _unchanged(method: RegisteredMethod) -> bool:
    now = RegisteredMethod.objects.get(pk=method.pk)
    return (now.kind, now.data, now.is_default) == (method.kind, method.data, method.is_default)


# --- Text <-> Call -------------------------------------------------------------------------


def test_security_info_offers_the_phone_actions(
    signed_in: Client, mobile: RegisteredMethod, alice: Any, clock: Any
) -> None:
    service.save_new(alice, "totp", now=clock(), secret=pyotp.random_base32())
    page = text(signed_in.get(INFO))
    assert "Text a code to +358 44 *** **21 (Mobile)" in page
    assert f'href="{_change(mobile)}"' in page
    assert f'action="{_delivery(mobile)}"' in page
    assert "Use calls instead" in page
    assert page.count("Change number</a>") == 1  # not on the authenticator app's row


def test_switch_to_calls_and_back_keeps_name_default_and_dates(
    signed_in: Client, mobile: RegisteredMethod
) -> None:
    response = signed_in.post(_delivery(mobile), {"delivery": "voice"})
    assert response["Location"] == INFO
    called = RegisteredMethod.objects.get(pk=mobile.pk)
    assert called.kind == "voice"
    assert (called.name, called.is_default, called.created_at, called.data) == (
        mobile.name,
        True,
        mobile.created_at,
        mobile.data,
    )
    page = text(signed_in.get(INFO))
    assert "From now on we call your phone: Call +358 44 *** **21 (Mobile)." in page
    assert "Use texts instead" in page
    event = AuditEvent.objects.get(action="method.changed")
    assert (event.data["old_method"], event.data["method"]) == ("sms", "voice")
    assert event.data["method_id"] == mobile.pk

    assert signed_in.post(_delivery(mobile), {"delivery": "sms"})["Location"] == INFO
    back = RegisteredMethod.objects.get(pk=mobile.pk)
    assert (back.kind, back.name, back.is_default) == ("sms", "Mobile", True)
    assert AuditEvent.objects.filter(action="method.changed").count() == 2
    assert texts() == 0  # no new proof asked for: the number was verified already


def test_switching_a_non_default_phone_leaves_the_default(
    signed_in: Client, alice: Any, mobile: RegisteredMethod, clock: Any
) -> None:
    office = service.save_new(alice, "voice", now=clock(), name="Office", data={"number": NEW})
    signed_in.post(_delivery(office), {"delivery": "sms"})
    assert RegisteredMethod.objects.get(pk=office.pk).kind == "sms"
    assert RegisteredMethod.objects.get(is_default=True).pk == mobile.pk


def test_double_submitted_switch_changes_once(signed_in: Client, mobile: RegisteredMethod) -> None:
    signed_in.post(_delivery(mobile), {"delivery": "voice"})
    assert signed_in.post(_delivery(mobile), {"delivery": "voice"})["Location"] == INFO
    assert RegisteredMethod.objects.get(pk=mobile.pk).kind == "voice"
    assert AuditEvent.objects.filter(action="method.changed").count() == 1


def test_cannot_switch_another_persons_phone(
    signed_in: Client, make_user: Any, mobile: RegisteredMethod, clock: Any
) -> None:
    bob = make_user(email="bob@example.org")
    bobs = service.save_new(bob, "sms", now=clock(), data={"number": NEW})
    assert (
        failed_post(signed_in, _delivery(bobs), {"delivery": "voice"}, to=INFO).status_code == 404
    )
    assert _unchanged(bobs)
    assert not AuditEvent.objects.filter(action="method.changed").exists()


def test_cannot_switch_what_is_not_a_phone(signed_in: Client, alice: Any, clock: Any) -> None:
    app = service.save_new(alice, "totp", now=clock(), secret=pyotp.random_base32())
    assert failed_post(signed_in, _delivery(app), {"delivery": "voice"}, to=INFO).status_code == 404
    assert RegisteredMethod.objects.get(pk=app.pk).kind == "totp"


@pytest.mark.parametrize("delivery", ["", "pigeon", "totp", "app_push"])
def test_unknown_delivery_is_400(
    signed_in: Client, mobile: RegisteredMethod, delivery: str
) -> None:
    response = failed_post(signed_in, _delivery(mobile), {"delivery": delivery}, to=INFO)
    assert response.status_code == 400
    assert "Text me a code" in text(response)
    assert 'id="form-error"' in text(response)
    assert _unchanged(mobile)


def test_switch_needs_a_recent_sign_in(
    signed_in: Client, mobile: RegisteredMethod, clock: Any
) -> None:
    clock.advance(301)  # beyond REAUTH_TTL
    response = signed_in.post(_delivery(mobile), {"delivery": "voice"})
    assert response.status_code == 302
    assert response["Location"] == "/signin/confirm/?next=/security-info/"
    assert _unchanged(mobile)


def test_switch_is_a_post_with_a_csrf_token(signed_in: Client, mobile: RegisteredMethod) -> None:
    assert signed_in.get(_delivery(mobile), {"delivery": "voice"}).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = signed_in.cookies
    assert strict.post(_delivery(mobile), {"delivery": "voice"}).status_code == 403
    assert _unchanged(mobile)


# --- Change number -------------------------------------------------------------------------


def _send(client: Client, url: str, number: str = "044 1234522", delivery: str = "sms") -> Any:
    return client.post(
        url, {"action": "send", "country": "FI", "number": number, "delivery": delivery}
    )


def test_change_number_by_text(signed_in: Client, mobile: RegisteredMethod) -> None:
    page = text(signed_in.get(_change(mobile)))
    assert "What phone number would you like to use?" in page
    assert "the new number replaces Text a code to +358 44 *** **21 (Mobile)" in page
    assert _send(signed_in, _change(mobile))["Location"] == _change(mobile)
    assert "We just sent a 6 digit code to <strong>+358 44 1234522</strong>" in text(
        signed_in.get(_change(mobile))
    )
    assert texts(NEW) == 1
    assert texts(NUMBER) == 0
    other = f"{(int(last_code(NEW)) + 1) % 10**6:06d}"
    wrong = failed_post(signed_in, _change(mobile), {"code": other})
    assert wrong.status_code == 400
    # Still the change of number, after the redirect.
    assert "the new number replaces" in text(wrong)
    assert _unchanged(mobile)

    done = signed_in.post(_change(mobile), {"code": last_code(NEW)})
    assert done["Location"] == INFO
    new = RegisteredMethod.objects.get()
    assert new.pk != mobile.pk
    assert (new.kind, new.data["number"], new.name, new.is_default) == ("sms", NEW, "Mobile", True)
    assert "Your phone number was changed: Text a code to +358 44 *** **22 (Mobile)." in text(
        signed_in.get(INFO)
    )
    event = AuditEvent.objects.get(action="method.changed")
    assert (event.data["old_method_id"], event.data["method_id"]) == (mobile.pk, new.pk)
    assert event.data["change"] == "number"
    assert not AuditEvent.objects.filter(action="method.added").exists()


def test_change_number_to_a_call_keeps_a_non_default_flag(
    signed_in: Client, alice: Any, mobile: RegisteredMethod, clock: Any
) -> None:
    office = service.save_new(alice, "sms", now=clock(), name="Office", data={"number": NEW})
    # "Use a different number" and "Call me" on the way: still a change of the office phone.
    signed_in.get(_change(office))
    _send(signed_in, _change(office), number="044 1234599")
    assert signed_in.post(_change(office), {"action": "change"})["Location"] == _change(office)
    assert _send(signed_in, _change(office), number="044 1234523", delivery="voice")[
        "Location"
    ] == _change(office, "voice")
    answer_and_press("#", "+358441234523")
    answer = signed_in.get("/security-info/add/voice/status/").json()
    assert answer["state"] == "approved"
    assert (
        signed_in.post(_change(office, "voice"), {"code": answer["response"]})["Location"] == INFO
    )
    numbers = dict(RegisteredMethod.objects.values_list("data__number", "kind"))
    assert numbers == {NUMBER: "sms", "+358441234523": "voice"}
    assert RegisteredMethod.objects.get(is_default=True).pk == mobile.pk


def test_abandoned_change_keeps_the_old_number(signed_in: Client, mobile: RegisteredMethod) -> None:
    _send(signed_in, _change(mobile))
    # She cancels, and later adds a phone: that one is added, it replaces nothing.
    assert "Change number" in text(signed_in.get(INFO))
    page = text(signed_in.get("/security-info/add/sms/"))
    assert "What phone number would you like to use?" in page
    assert "replaces" not in page
    _send(signed_in, "/security-info/add/sms/", number="044 1234523")
    assert (
        signed_in.post("/security-info/add/sms/", {"code": last_code("+358441234523")})["Location"]
        == INFO
    )
    assert RegisteredMethod.objects.count() == 2
    assert _unchanged(mobile)
    assert not AuditEvent.objects.filter(action="method.changed").exists()


@pytest.mark.parametrize("number", ["abc", "044", "0700 123456"])
def test_bad_new_number_is_4xx_and_saves_nothing(
    signed_in: Client, mobile: RegisteredMethod, number: str
) -> None:
    signed_in.get(_change(mobile))
    posted = _send(signed_in, _change(mobile), number=number)
    assert posted.status_code == 303
    assert posted["Location"].startswith(_change(mobile) + "&failed=")
    response = signed_in.get(posted["Location"])
    assert response.status_code == 400
    assert "What phone number would you like to use?" in text(response)
    # The number typed comes back in its field, to be corrected.
    assert f'value="{number}"' in text(response)
    assert texts(NEW) == 0
    assert list(RegisteredMethod.objects.values_list("pk", flat=True)) == [mobile.pk]
    assert _unchanged(mobile)


def test_change_refuses_a_method_that_is_not_hers(
    signed_in: Client, make_user: Any, alice: Any, mobile: RegisteredMethod, clock: Any
) -> None:
    bob = make_user(email="bob@example.org")
    bobs = service.save_new(bob, "sms", now=clock(), data={"number": NEW})
    app = service.save_new(alice, "totp", now=clock(), secret=pyotp.random_base32())
    before = PendingEnrolment.objects.count()
    for wrong in (str(bobs.pk), str(app.pk), "x", "99999"):
        response = signed_in.get(f"/security-info/add/sms/?replace={wrong}")
        assert response.status_code == 404, wrong
    assert PendingEnrolment.objects.count() == before
    assert _unchanged(bobs)


def test_change_needs_a_recent_sign_in(
    signed_in: Client, mobile: RegisteredMethod, clock: Any
) -> None:
    clock.advance(301)
    response = signed_in.get(_change(mobile))
    assert response["Location"] == (
        f"/signin/confirm/?next=/security-info/add/sms/%3Freplace%3D{mobile.pk}"
    )


def test_change_finished_after_reauth_ttl_asks_again(
    signed_in: Client, mobile: RegisteredMethod, clock: Any
) -> None:
    signed_in.get(_change(mobile))
    _send(signed_in, _change(mobile))
    clock.advance(301)
    response = signed_in.post(_change(mobile), {"code": last_code(NEW)})
    assert response["Location"].startswith("/signin/confirm/")
    assert list(RegisteredMethod.objects.values_list("pk", flat=True)) == [mobile.pk]
