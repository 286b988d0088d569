"""POST /api/validate/v1/check through Django's test client: accepted once, refused with a
clear 4xx otherwise, throttled per person (never per gateway), audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from tests.conftest import totp_code
from tests.validate.conftest import CHECK, Post, refused
from vahva.audit.models import AuditEvent
from vahva.methods import registry, service
from vahva.methods.models import RegisteredMethod
from vahva.methods.totp import generate_secret
from vahva.signin.throttle import Throttle

pytestmark = pytest.mark.django_db

ALICE = "alice@example.org"


def checks() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (e.outcome, e.reason, e.data)
        for e in AuditEvent.objects.filter(action="validate.check").order_by("id")
    ]


# --- accepted ------------------------------------------------------------------------------


def test_the_current_code_is_accepted(check: Post, alice_totp: Any, clock: Any) -> None:
    method, secret = alice_totp
    response = check(user=ALICE, code=totp_code(secret, clock()))
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": True, "user": ALICE, "method": "totp"}
    assert checks() == [("ok", "", {"client": "VPN gateway", "method": "totp"})]
    # The step is used up, as at a sign-in.
    method.refresh_from_db()
    assert method.counter == int(clock().timestamp()) // 30
    assert method.last_used_at == clock()


def test_the_address_is_matched_as_at_sign_in(check: Post, alice_totp: Any, clock: Any) -> None:
    _method, secret = alice_totp
    response = check(user="  Alice@Example.ORG ", code=totp_code(secret, clock()))
    assert response.status_code == 200, response.content
    assert response.json()["user"] == ALICE


def test_spaces_in_the_code_are_allowed(check: Post, alice_totp: Any, clock: Any) -> None:
    _method, secret = alice_totp
    code = totp_code(secret, clock())
    assert check(user=ALICE, code=f"{code[:3]} {code[3:]}").status_code == 200


def test_the_vahva_apps_offline_code_is_accepted(check: Post, alice: Any, clock: Any) -> None:
    secret = generate_secret()
    service.save_new(
        alice,
        "app_push",
        now=clock() - dt.timedelta(hours=1),
        secret=secret,
        data={"device": "00000000-0000-0000-0000-000000000001"},
    )
    response = check(user=ALICE, code=totp_code(secret, clock()))
    assert response.status_code == 200, response.content
    assert response.json()["method"] == "app_push"


def test_either_of_two_apps_codes_is_accepted(check: Post, alice_totp: Any, clock: Any) -> None:
    """An authenticator app and the vahva app: the code says which; each counts on its own."""
    first, first_secret = alice_totp
    second_secret = generate_secret()
    second = service.save_new(
        alice_totp[0].user,
        "app_push",
        now=clock() - dt.timedelta(hours=1),
        secret=second_secret,
        data={"device": "00000000-0000-0000-0000-000000000002"},
    )
    assert check(user=ALICE, code=totp_code(second_secret, clock())).json()["method"] == "app_push"
    assert check(user=ALICE, code=totp_code(first_secret, clock())).json()["method"] == "totp"
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.counter == second.counter == int(clock().timestamp()) // 30


# --- single use ----------------------------------------------------------------------------


def test_a_code_is_never_accepted_twice(check: Post, alice_totp: Any, clock: Any) -> None:
    _method, secret = alice_totp
    code = totp_code(secret, clock())
    assert check(user=ALICE, code=code).status_code == 200
    refused(check(user=ALICE, code=code), 400, "replayed")
    clock.advance(20)  # still inside the window the code is valid in
    refused(check(user=ALICE, code=code), 400, "replayed")
    assert [outcome for outcome, _reason, _data in checks()] == ["ok", "failure", "failure"]
    assert checks()[-1][1] == "ReplayedCode"


def test_a_code_used_at_a_sign_in_is_refused_here(check: Post, alice_totp: Any, clock: Any) -> None:
    method, secret = alice_totp
    code = totp_code(secret, clock())
    registry.get("totp").verify(method, code, now=clock())  # the browser's sign-in took it
    refused(check(user=ALICE, code=code), 400, "replayed")


def test_an_earlier_code_after_a_later_one_is_refused(
    check: Post, alice_totp: Any, clock: Any
) -> None:
    _method, secret = alice_totp
    later = totp_code(secret, clock() + dt.timedelta(seconds=30))
    earlier = totp_code(secret, clock())
    assert check(user=ALICE, code=later).status_code == 200
    refused(check(user=ALICE, code=earlier), 400, "replayed")


# --- refused -------------------------------------------------------------------------------


def test_a_wrong_code_is_refused_and_counted(check: Post, alice_totp: Any, clock: Any) -> None:
    method, secret = alice_totp
    wrong = f"{(int(totp_code(secret, clock())) + 1) % 1_000_000:06d}"
    body = refused(check(user=ALICE, code=wrong), 400, "invalid")
    assert "not right" in body["message"]
    assert checks() == [("failure", "InvalidCode", {"method": "totp"})]
    # The person's MFA key counts the guess; the gateway's address does not.
    assert list(Throttle.objects.values_list("key", "failures")) == [
        (f"mfa:acct:{method.user.pk}", 1)
    ]


@pytest.mark.parametrize("who", ["nobody@example.org", "not an address", ""])
def test_an_unknown_person_gets_the_answer_a_wrong_code_gets(
    check: Post, alice_totp: Any, clock: Any, who: str
) -> None:
    response = check(user=who, code="123456")
    wrong = check(
        user=ALICE, code="000000" if totp_code(alice_totp[1], clock()) != "000000" else "1"
    )
    assert response.status_code == wrong.status_code == 400
    assert response.json() == wrong.json()
    assert checks()[0][:2] == ("failure", "unknown e-mail address")


def test_a_person_without_an_app_gets_the_same_answer(check: Post, alice: Any) -> None:
    refused(check(user=ALICE, code="123456"), 400, "invalid")
    assert checks() == [
        (
            "failure",
            "no authenticator app",
            {"client": "VPN gateway", "email": ALICE},
        )
    ]


def test_a_disabled_person_is_refused(check: Post, alice_totp: Any, clock: Any) -> None:
    method, secret = alice_totp
    method.user.is_active = False
    method.user.save()
    refused(check(user=ALICE, code=totp_code(secret, clock())), 400, "invalid")
    method.refresh_from_db()
    assert method.counter == -1


def test_guessing_is_throttled_per_person(check: Post, alice_totp: Any, clock: Any) -> None:
    _method, secret = alice_totp
    right = totp_code(secret, clock())
    wrong = [f"{n:06d}" for n in range(1, 20) if f"{n:06d}" != right][:5]
    for code in wrong:  # the rule's free tries
        refused(check(user=ALICE, code=code), 400, "invalid")
    response = check(user=ALICE, code=right)
    refused(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    clock.advance(int(response["Retry-After"]))
    assert check(user=ALICE, code=right).status_code == 200
    # The success clears the person's count, as a sign-in does.
    assert not Throttle.objects.exists()


def test_typos_of_many_people_behind_one_gateway_hold_nobody_else_back(
    check: Post, make_user: Any, alice_totp: Any, clock: Any
) -> None:
    """25 people mistype once each, all through one gateway (one address): more than the
    per-address rule lets through. Alice behind the same gateway is not slowed down."""
    for n in range(25):
        person = make_user(f"person{n}@example.org")
        service.save_new(
            person, "totp", now=clock() - dt.timedelta(hours=1), secret=generate_secret()
        )
        refused(check(user=person.email, code="000000"), 400, "invalid")
    _method, secret = alice_totp
    assert check(user=ALICE, code=totp_code(secret, clock())).status_code == 200
    assert not Throttle.objects.filter(key__startswith="mfa:ip:").exists()


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b'"a string"', b"\xff\xfe", b'{"user": "alice@example.org"}'],
    ids=["not json", "a list", "a string", "not utf-8", "no code"],
)
def test_bad_json_is_a_400(check: Post, alice_totp: Any, raw: bytes) -> None:
    body = refused(check(raw=raw), 400, "malformed")
    assert "alice" not in str(body.get("fields", ""))
    assert not AuditEvent.objects.filter(action="validate.check").exists()


@pytest.mark.parametrize(
    "code", ["12345", "1234567", "12a456", "\uff11\uff12\uff13\uff14\uff15\uff16", "", "123 45 6x"]
)
def test_a_code_that_is_not_six_digits_is_not_a_guess(
    check: Post, alice_totp: Any, code: str
) -> None:
    refused(check(user=ALICE, code=code), 400, "malformed")
    assert not Throttle.objects.exists()


def test_wrong_types_are_a_400(check: Post, alice_totp: Any) -> None:
    body = refused(check(user=ALICE, code=123456), 400, "malformed")
    assert body["fields"][0]["field"].endswith("code")
    refused(check(user=["a"], code="123456"), 400, "malformed")


def test_a_large_body_is_refused(check: Post, alice_totp: Any) -> None:
    refused(check(user="a" * 5000, code="123456"), 413, "too_large")


def test_long_fields_are_refused(check: Post, alice_totp: Any) -> None:
    refused(check(user="a" * 300, code="123456"), 400, "malformed")
    refused(check(user=ALICE, code="1" * 65), 400, "malformed")


def test_only_post(client: Client, api_key: str) -> None:
    response = client.get(CHECK, headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 405


# --- the client's key ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer nonsense",
        "Bearer 0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "Basic dnBuOnNlY3JldA==",
    ],
)
def test_without_a_valid_key_it_is_a_401(
    client: Client, alice_totp: Any, clock: Any, header: str | None
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = client.post(
        CHECK,
        data={"user": ALICE, "code": totp_code(alice_totp[1], clock())},
        content_type="application/json",
        headers=headers,
    )
    refused(response, 401, "unauthorized")
    assert response["WWW-Authenticate"].startswith("Bearer")
    # Nothing was checked: the code is still good.
    assert alice_totp[0].__class__.objects.get(pk=alice_totp[0].pk).counter == -1


def test_a_key_with_the_wrong_secret_is_refused(check: Post, api_key: str, alice_totp: Any) -> None:
    key_id, secret = api_key.split(".")
    other = "A" * 43 if secret != "A" * 43 else "B" * 43
    refused(check(key=f"{key_id}.{other}", user=ALICE, code="123456"), 401, "unauthorized")


def test_a_removed_clients_key_stops_working(check: Post, api_key: str, alice_totp: Any) -> None:
    from vahva.validate import clients

    assert clients.remove("VPN gateway") is True
    refused(check(user=ALICE, code="123456"), 401, "unauthorized")


def test_the_key_is_stored_hashed(api_key: str) -> None:
    from vahva.validate.models import ApiClient

    stored = ApiClient.objects.get()
    key_id, secret = api_key.split(".")
    assert stored.key_id == key_id
    assert secret not in str(list(ApiClient.objects.values()))


def test_last_used_is_kept_to_the_hour(
    check: Post, api_key: str, alice_totp: Any, clock: Any
) -> None:
    from vahva.validate.models import ApiClient

    check(user=ALICE, code="000001")
    assert ApiClient.objects.get().last_used_at == clock()
    first = clock()
    clock.advance(600)
    check(user=ALICE, code="000002")
    assert ApiClient.objects.get().last_used_at == first
    clock.advance(3600)
    check(user=ALICE, code="000003")
    assert ApiClient.objects.get().last_used_at == clock()


# --- the published description -------------------------------------------------------------


def test_openapi_document_is_published(client: Client) -> None:
    response = client.get("/api/validate/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["info"]["title"] == "vahva validation API"
    assert "post" in doc["paths"]["/api/validate/v1/check"]
    assert "Accept only a 200" in doc["info"]["description"]
    assert client.get("/api/validate/v1/docs").status_code == 404


def test_stores_no_method_for_nobody(check: Post) -> None:
    refused(check(user=ALICE, code="123456"), 400, "invalid")
    assert not RegisteredMethod.objects.exists()


# --- the window, and what a check leaves behind ----------------------------------------------


@pytest.mark.parametrize(
    ("offset", "accepted"), [(-60, False), (-30, True), (30, True), (60, False)]
)
def test_the_window_is_one_step_either_side(
    check: Post, alice_totp: Any, clock: Any, offset: int, accepted: bool
) -> None:
    """A clock that drifts by a step is forgiven (RFC 6238 §5.2); two steps are not."""
    _method, secret = alice_totp
    response = check(user=ALICE, code=totp_code(secret, clock() + dt.timedelta(seconds=offset)))
    if accepted:
        assert response.status_code == 200, response.content
    else:
        refused(response, 400, "invalid")


def test_a_right_code_leaves_no_throttle_row(check: Post, alice_totp: Any, clock: Any) -> None:
    """The account key is locked for the check (on PostgreSQL through a row made for it):
    nothing of it stays behind a success."""
    _method, secret = alice_totp
    assert check(user=ALICE, code=totp_code(secret, clock())).status_code == 200
    assert not Throttle.objects.exists()


def test_a_throttled_check_counts_and_consumes_nothing(
    check: Post, alice_totp: Any, clock: Any
) -> None:
    """Refused by the back-off before the code is looked at: the right code is not used up,
    no guess is counted and no check is audited."""
    method, secret = alice_totp
    right = totp_code(secret, clock())
    for code in [f"{n:06d}" for n in range(1, 20) if f"{n:06d}" != right][:5]:
        refused(check(user=ALICE, code=code), 400, "invalid")
    refused(check(user=ALICE, code=right), 429, "rate_limited")
    assert Throttle.objects.get().failures == 5
    assert len(checks()) == 5
    method.refresh_from_db()
    assert method.counter == -1


def test_forgotten_failures_start_the_count_afresh(
    check: Post, alice_totp: Any, clock: Any, settings: Any
) -> None:
    """Failures older than the rule's ``forget`` no longer count: the next wrong guess is the
    first again, and a right code is checked at once."""
    _method, secret = alice_totp
    forget = 600
    settings.VAHVA = {
        **settings.VAHVA,
        "THROTTLE_MFA_ACCOUNT": {
            "free": 5,
            "base": 60.0,
            "cap": 900.0,
            "limit": 10,
            "forget": forget,
        },
    }
    right = totp_code(secret, clock())
    for code in [f"{n:06d}" for n in range(1, 20) if f"{n:06d}" != right][:5]:
        refused(check(user=ALICE, code=code), 400, "invalid")
    clock.advance(forget)
    wrong = "000000" if totp_code(secret, clock()) != "000000" else "111111"
    refused(check(user=ALICE, code=wrong), 400, "invalid")
    assert Throttle.objects.get().failures == 1
    assert check(user=ALICE, code=totp_code(secret, clock())).status_code == 200


def test_a_person_without_an_app_leaves_no_throttle_row(check: Post, alice: Any) -> None:
    """The key's row is made (PostgreSQL) only for a person with a code method to check."""
    refused(check(user=ALICE, code="123456"), 400, "invalid")
    refused(check(user="nobody@example.org", code="123456"), 400, "invalid")
    assert not Throttle.objects.exists()
