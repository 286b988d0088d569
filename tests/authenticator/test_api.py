"""The device API with real ECDSA signatures: enrolment, pending, answers, removal, push
subscriptions, and every kind of bad input (a clear 4xx JSON error, nothing changed)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.authenticator.device import API, TestDevice
from vahva.audit.models import AuditEvent
from vahva.authenticator.models import Device, EnrolmentLink, PushChallenge, SeenRequest
from vahva.methods.models import PendingEnrolment

pytestmark = pytest.mark.django_db


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["error"] == code, body
    assert body["message"]
    return body


def state_of(challenge: dict[str, Any] | PushChallenge) -> str:
    pk = challenge.pk if isinstance(challenge, PushChallenge) else challenge["id"]
    return str(PushChallenge.objects.get(pk=pk).state)


# --- the published description ---------------------------------------------------------------


def test_openapi_document_is_published(client: Client) -> None:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["info"]["title"] == "vahva device API"
    assert {"/api/device/v1/enroll", "/api/device/v1/pending", "/api/device/v1/answer"} <= set(
        doc["paths"]
    )
    assert "put" in doc["paths"]["/api/device/v1/device/push-subscription"]
    assert "delete" in doc["paths"]["/api/device/v1/device"]
    assert "P1363" in doc["info"]["description"]
    # No interactive docs: they would load scripts from a CDN, against the CSP.
    assert client.get(f"{API}/docs").status_code == 404


# --- enrolment ---------------------------------------------------------------------------


@pytest.mark.parametrize("key_format", ["jwk", "spki"])
def test_enrol_with_the_code(enrolment: PendingEnrolment, clock: Any, key_format: str) -> None:
    phone = TestDevice()
    key = phone.jwk() if key_format == "jwk" else phone.spki()
    response = phone.enroll(enrolment.secret, public_key=key)
    assert response.status_code == 200, response.content
    body = response.json()
    device = Device.objects.get(pk=body["device"])
    assert device.user == enrolment.user
    assert device.name == "Alice's phone"
    assert device.status == Device.Status.ENROLLED
    assert EnrolmentLink.objects.get().used_at == clock()
    # The code is stored only as a hash.
    assert enrolment.secret not in json.dumps(list(EnrolmentLink.objects.values()), default=str)
    # "Let's try it out": the test request is waiting for this device, without its number.
    (test,) = phone.challenges()
    assert test["id"] == body["challenge"]
    assert test["purpose"] == "test"
    assert test["number_required"] is True
    assert "number" not in test
    assert test["organisation"] == "Demo University"


def test_enrolment_link_is_single_use(enrolment: PendingEnrolment) -> None:
    assert TestDevice().enroll(enrolment.secret).status_code == 200
    second = TestDevice(name="Thief's phone")
    error(second.enroll(enrolment.secret), 410, "enrolment_expired")
    assert Device.objects.count() == 1


def test_enrolment_link_expires(enrolment: PendingEnrolment, clock: Any) -> None:
    clock.advance(600)
    error(TestDevice().enroll(enrolment.secret), 410, "enrolment_expired")
    assert not Device.objects.exists()
    assert EnrolmentLink.objects.get().used_at is None


def test_unknown_or_malformed_codes(enrolment: PendingEnrolment) -> None:
    error(TestDevice().enroll("x" * 32), 410, "enrolment_expired")
    error(TestDevice().enroll("short"), 400, "malformed")
    error(TestDevice().enroll("../../etc/passwd#"), 400, "malformed")
    assert not Device.objects.exists()


def test_enrolment_needs_proof_of_the_private_key(enrolment: PendingEnrolment) -> None:
    phone = TestDevice()
    body = json.dumps({"code": enrolment.secret, "public_key": phone.jwk(), "name": "x"}).encode()
    # Someone else's public key, signed with an attacker's key: refused, link unused.
    forged = phone.headers(
        "POST", f"{API}/enroll", body, device="", key=ec.generate_private_key(ec.SECP256R1())
    )
    error(phone.send("POST", f"{API}/enroll", body, forged), 401, "bad_signature")
    unsigned = phone.send("POST", f"{API}/enroll", body, {})
    assert unsigned.status_code in (401, 400)
    assert not Device.objects.exists()
    assert EnrolmentLink.objects.get().used_at is None
    assert phone.enroll(enrolment.secret).status_code == 200


def test_enrolment_with_a_stale_signature(enrolment: PendingEnrolment, clock: Any) -> None:
    phone = TestDevice()
    body = json.dumps({"code": enrolment.secret, "public_key": phone.jwk(), "name": "x"}).encode()
    old = phone.headers(
        "POST", f"{API}/enroll", body, device="", ts=int(clock().timestamp()) - 3600
    )
    error(phone.send("POST", f"{API}/enroll", body, old), 401, "stale_request")
    assert EnrolmentLink.objects.get().used_at is None


@pytest.mark.parametrize(
    "key",
    [{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}, "bm90IGEga2V5", {"d": "secret"}, 7],
)
def test_bad_keys_are_refused(enrolment: PendingEnrolment, key: Any) -> None:
    error(TestDevice().enroll(enrolment.secret, public_key=key), 400, "malformed")
    assert EnrolmentLink.objects.get().used_at is None


# --- signed requests ---------------------------------------------------------------------


def test_unsigned_forged_and_unknown(phone: TestDevice) -> None:
    path = f"{API}/pending"
    error(phone.send("GET", path, headers={}), 401, "unknown_device")
    other = ec.generate_private_key(ec.SECP256R1())
    error(
        phone.send("GET", path, headers=phone.headers("GET", path, key=other)), 401, "bad_signature"
    )
    # A signature for another path (or method) does not carry over.
    moved = phone.headers("GET", f"{API}/device")
    error(phone.send("GET", path, headers=moved), 401, "bad_signature")
    ghost = phone.headers("GET", path, device="8d6b2c02-9a6b-4c7e-9d43-3d1d2a3b4c5d")
    error(phone.send("GET", path, headers=ghost), 401, "unknown_device")
    garbage = {**phone.headers("GET", path), "Vahva-Device": "'; DROP TABLE x; --"}
    error(phone.send("GET", path, headers=garbage), 401, "unknown_device")
    bad_nonce = phone.headers("GET", path, nonce="short")
    error(phone.send("GET", path, headers=bad_nonce), 401, "bad_signature")


def test_stale_and_future_requests(phone: TestDevice, clock: Any) -> None:
    path = f"{API}/pending"
    now = int(clock().timestamp())
    for ts in (now - 121, now + 121):
        error(
            phone.send("GET", path, headers=phone.headers("GET", path, ts=ts)), 401, "stale_request"
        )
    assert (
        phone.send("GET", path, headers=phone.headers("GET", path, ts=now - 119)).status_code == 200
    )


def test_replayed_request_is_refused(phone: TestDevice, clock: Any) -> None:
    path = f"{API}/pending"
    captured = phone.headers("GET", path)
    assert phone.send("GET", path, headers=captured).status_code == 200
    error(phone.send("GET", path, headers=captured), 401, "replayed_request")
    # Still refused near the end of the window; after it, the timestamp is stale anyway.
    clock.advance(115)
    error(phone.send("GET", path, headers=captured), 401, "replayed_request")
    clock.advance(10)
    error(phone.send("GET", path, headers=captured), 401, "stale_request")
    # Old nonces are forgotten once they cannot be fresh again.
    phone.pending()
    assert SeenRequest.objects.count() == 1


# --- answers -----------------------------------------------------------------------------


def test_approve_with_the_right_number(
    alice: Any, phone: TestDevice, push: Callable[..., PushChallenge], clock: Any
) -> None:
    challenge = push(alice, phone)
    (listed,) = phone.challenges()
    assert listed["id"] == str(challenge.pk)
    assert listed["purpose"] == "signin"
    assert listed["ip"] == "198.51.100.7"
    assert listed["service"] == "Mail"
    response = phone.answer(listed, "approve", challenge.number)
    assert response.status_code == 200, response.content
    assert response.json() == {"challenge": str(challenge.pk), "state": "approved"}
    challenge.refresh_from_db()
    assert challenge.state == "approved"
    assert str(challenge.answered_by_id) == phone.id
    assert challenge.answered_number == challenge.number
    assert Device.objects.get(pk=phone.id).last_used_at == clock()
    assert phone.challenges() == []


def test_wrong_number_changes_nothing_then_denies(
    alice: Any, phone: TestDevice, push: Callable[..., PushChallenge]
) -> None:
    challenge = push(alice, phone)
    (listed,) = phone.challenges()
    wrong = 10 if challenge.number != 10 else 11
    error(phone.answer(listed, "approve", wrong), 400, "wrong_number")
    assert state_of(challenge) == "pending"
    error(phone.answer(listed, "approve", "abc"), 400, "malformed")
    error(phone.answer(listed, "approve", None), 400, "malformed")
    assert state_of(challenge) == "pending"
    error(phone.answer(listed, "approve", wrong), 400, "wrong_number")
    # The third wrong number: no more guessing, the request is denied.
    body = error(phone.answer(listed, "approve", wrong), 400, "wrong_number")
    assert "denied" in body["message"]
    assert state_of(challenge) == "denied"
    error(phone.answer(listed, "approve", challenge.number), 409, "already_answered")


def test_answer_after_expiry(
    alice: Any, phone: TestDevice, push: Callable[..., PushChallenge], clock: Any
) -> None:
    challenge = push(alice, phone)
    (listed,) = phone.challenges()
    clock.advance(60)
    assert phone.challenges() == []
    error(phone.answer(listed, "approve", challenge.number), 410, "expired")
    assert state_of(challenge) == "expired"


def test_forged_answer_is_refused(
    alice: Any, phone: TestDevice, push: Callable[..., PushChallenge]
) -> None:
    challenge = push(alice, phone)
    (listed,) = phone.challenges()
    signed_deny = phone.answer_body(listed, "deny")
    headers = phone.headers("POST", f"{API}/answer", signed_deny)
    # The body swapped after signing (deny → approve): the hash no longer matches.
    approve = phone.answer_body(listed, "approve", challenge.number)
    error(phone.send("POST", f"{API}/answer", approve, headers), 401, "bad_signature")
    # Signed by another key under this device's id.
    other = ec.generate_private_key(ec.SECP256R1())
    forged = phone.headers("POST", f"{API}/answer", approve, key=other)
    error(phone.send("POST", f"{API}/answer", approve, forged), 401, "bad_signature")
    assert state_of(challenge) == "pending"


def test_replayed_answer_is_refused(
    alice: Any, phone: TestDevice, push: Callable[..., PushChallenge]
) -> None:
    first = push(alice, phone)
    (listed,) = phone.challenges()
    body = phone.answer_body(listed, "deny")
    headers = phone.headers("POST", f"{API}/answer", body)
    assert phone.send("POST", f"{API}/answer", body, headers).status_code == 200
    error(phone.send("POST", f"{API}/answer", body, headers), 401, "replayed_request")
    assert state_of(first) == "denied"


def test_answer_must_match_the_challenge(
    alice: Any, phone: TestDevice, push: Callable[..., PushChallenge]
) -> None:
    challenge = push(alice, phone)
    (listed,) = phone.challenges()
    error(
        phone.answer({**listed, "nonce": "x" * 32}, "approve", challenge.number), 400, "malformed"
    )
    error(
        phone.answer({**listed, "id": "nope"}, "approve", challenge.number),
        404,
        "unknown_challenge",
    )
    error(phone.answer(listed, "maybe", challenge.number), 400, "malformed")
    # The answer's own timestamp must be the signed header's.
    body = json.dumps(
        {**json.loads(phone.answer_body(listed, "approve", challenge.number)), "timestamp": 1}
    ).encode()
    error(phone.send("POST", f"{API}/answer", body), 400, "malformed")
    assert state_of(challenge) == "pending"


def test_a_device_answers_only_its_own_requests(
    alice: Any,
    make_user: Any,
    make_phone: Callable[..., TestDevice],
    phone: TestDevice,
    push: Callable[..., PushChallenge],
) -> None:
    bob = make_user("bob@example.org")
    bobs = make_phone(bob, "Bob's phone")
    challenge = push(alice, phone)
    (listed,) = phone.challenges()
    assert bobs.challenges() == []
    error(bobs.answer(listed, "approve", challenge.number), 404, "unknown_challenge")
    assert state_of(challenge) == "pending"


def test_deny_and_report(alice: Any, phone: TestDevice, push: Callable[..., PushChallenge]) -> None:
    denied = push(alice, phone)
    assert phone.answer(phone.challenges()[0], "deny").json()["state"] == "denied"
    reported = push(alice, phone)
    assert phone.answer(phone.challenges()[0], "report").json()["state"] == "reported"
    assert state_of(denied) == "denied"
    assert state_of(reported) == "reported"
    event = AuditEvent.objects.get(action="push.reported")
    assert event.subject_id == alice.pk
    assert event.outcome == "failure"
    assert event.data["challenge"] == str(reported.pk)
    assert event.data["attempt"] == str(reported.attempt)


def test_a_report_forgets_the_persons_remembered_browsers(
    alice: Any, phone: TestDevice, push: Callable[..., PushChallenge], clock: Any
) -> None:
    from vahva.signin.models import RememberedDevice

    RememberedDevice.objects.create(
        user=alice, digest="c" * 64, created_at=clock(), expires_at=clock() + dt.timedelta(days=9)
    )
    push(alice, phone)
    assert phone.answer(phone.challenges()[0], "deny").json()["state"] == "denied"
    # A plain "deny" is not a report: the browsers stay remembered.
    assert RememberedDevice.objects.filter(user=alice).exists()
    push(alice, phone)
    assert phone.answer(phone.challenges()[0], "report").json()["state"] == "reported"
    # The password thief's "don't ask again" (if any) no longer skips the second factor.
    assert not RememberedDevice.objects.filter(user=alice).exists()
    event = AuditEvent.objects.get(action="remembered.forgotten")
    assert event.reason == "sign-in request reported"


def test_two_devices_first_answer_wins(
    alice: Any,
    phone: TestDevice,
    make_phone: Callable[..., TestDevice],
    push: Callable[..., PushChallenge],
) -> None:
    tablet = make_phone(alice, "Tablet")
    challenge = push(alice, phone, tablet)
    (on_phone,) = phone.challenges()
    (on_tablet,) = tablet.challenges()
    assert on_phone["id"] == on_tablet["id"] == str(challenge.pk)
    assert tablet.answer(on_tablet, "approve", challenge.number).status_code == 200
    error(phone.answer(on_phone, "deny"), 409, "already_answered")
    assert phone.challenges() == []
    challenge.refresh_from_db()
    assert challenge.state == "approved"
    assert str(challenge.answered_by_id) == tablet.id


# --- removal -----------------------------------------------------------------------------


def test_removed_device_is_refused(
    alice: Any, phone: TestDevice, push: Callable[..., PushChallenge], clock: Any
) -> None:
    challenge = push(alice, phone)
    (listed,) = phone.challenges()
    response = phone.send("DELETE", f"{API}/device")
    assert response.json() == {"device": phone.id, "removed": True}
    device = Device.objects.get(pk=phone.id)
    assert device.status == "removed"
    assert device.removed_at == clock()
    error(phone.pending(), 403, "device_removed")
    error(phone.answer(listed, "approve", challenge.number), 403, "device_removed")
    error(phone.send("DELETE", f"{API}/device"), 403, "device_removed")
    assert state_of(challenge) == "pending"


# --- push subscriptions ------------------------------------------------------------------


def subscription(endpoint: str) -> bytes:
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    raw = b"\x04" + point.x.to_bytes(32, "big") + point.y.to_bytes(32, "big")
    from tests.authenticator.device import b64url

    return json.dumps(
        {"endpoint": endpoint, "keys": {"p256dh": b64url(raw), "auth": b64url(b"a" * 16)}}
    ).encode()


def test_push_subscription_is_stored_encrypted(phone: TestDevice) -> None:
    endpoint = "https://fcm.googleapis.com/fcm/send/secret-registration-token"
    response = phone.send("PUT", f"{API}/device/push-subscription", subscription(endpoint))
    assert response.status_code == 200, response.content
    assert response.json() == {"endpoint": endpoint}
    assert json.loads(Device.objects.get(pk=phone.id).push_subscription)["endpoint"] == endpoint
    with connection.cursor() as cursor:
        cursor.execute("SELECT push_subscription FROM authenticator_device")
        (raw,) = cursor.fetchone()
    assert raw.startswith("k1$")
    assert "secret-registration-token" not in raw


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://fcm.googleapis.com/x",
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/x",
        "https://localhost/x",
        "https://2130706433/x",
    ],
)
def test_ssrf_subscriptions_are_refused(phone: TestDevice, endpoint: str) -> None:
    response = phone.send("PUT", f"{API}/device/push-subscription", subscription(endpoint))
    error(response, 400, "endpoint_not_allowed")
    assert Device.objects.get(pk=phone.id).push_subscription == ""


def test_private_endpoints_allowed_by_the_override(phone: TestDevice, settings: Any) -> None:
    settings.VAHVA = {**settings.VAHVA, "PUSH_ALLOW_PRIVATE_ENDPOINTS": True}
    local = "http://127.0.0.1:8089/push"
    assert phone.send("PUT", f"{API}/device/push-subscription", subscription(local)).json() == {
        "endpoint": local
    }


# --- malformed and huge bodies -----------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'"just a string"',
        b"null",
        b"\xff\xfe\x00",
        b"[" * 5000 + b"]" * 5000,
        b'{"challenge": {"$gt": ""}, "nonce": [], "decision": 1, "timestamp": "x"}',
    ],
)
def test_malformed_answers(phone: TestDevice, body: bytes) -> None:
    error(phone.send("POST", f"{API}/answer", body), 400, "malformed")


def test_malformed_enrolment(enrolment: PendingEnrolment) -> None:
    phone = TestDevice()
    for body in (b"{", b"{}", b'{"code": 1, "public_key": null, "name": []}'):
        headers = phone.headers("POST", f"{API}/enroll", body, device="")
        error(phone.send("POST", f"{API}/enroll", body, headers), 400, "malformed")
    assert EnrolmentLink.objects.get().used_at is None


def test_huge_bodies(phone: TestDevice, enrolment: PendingEnrolment) -> None:
    medium = json.dumps({"pad": "x" * 20_000}).encode()
    error(phone.send("POST", f"{API}/answer", medium), 413, "too_large")
    error(phone.send("PUT", f"{API}/device/push-subscription", medium), 413, "too_large")
    enrol = json.dumps({"code": enrolment.secret, "public_key": "x", "name": "x" * 20_000})
    headers = phone.headers("POST", f"{API}/enroll", enrol.encode(), device="")
    error(phone.send("POST", f"{API}/enroll", enrol.encode(), headers), 413, "too_large")
    huge = b"{" + b" " * 400_000 + b"}"
    error(phone.send("POST", f"{API}/answer", huge), 413, "too_large")
    headers = phone.headers("POST", f"{API}/enroll", huge, device="")
    error(phone.send("POST", f"{API}/enroll", huge, headers), 413, "too_large")
    assert EnrolmentLink.objects.filter(used_at__isnull=False).count() == 1  # the phone's own


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.fixed_dictionaries(
        {},
        optional={
            "challenge": json_values,
            "nonce": json_values,
            "decision": st.sampled_from(["approve", "deny", "report"]) | json_values,
            "number": json_values,
            "timestamp": json_values,
        },
    )
)
def test_fuzzed_answers_are_never_a_500(
    alice: Any, phone: TestDevice, push: Callable[..., PushChallenge], fields: dict[str, Any]
) -> None:
    body = json.dumps(fields).encode()
    response = phone.send("POST", f"{API}/answer", body)
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["error"]
