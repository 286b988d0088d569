"""SQL statements per sign-in, per validation check and per refresh grant: upper bounds.

Statement counts are deterministic (unlike times), so they are asserted here; bench/ measures
what they cost. The bounds are the counts once issue 20's work was done: a change that adds a
statement to these paths has to raise a bound, on purpose.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.authenticator.conftest import make_phone, push  # noqa: F401  (fixtures)
from tests.helpers import PASSWORD, code_for
from tests.oidc.conftest import mail  # noqa: F401  (the fixture: a confidential service)

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _token(response: Any) -> str:
    found = CSRF.search(response.content.decode())
    assert found, "no CSRF token on the page"
    return found.group(1)


def _statements(captured: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in captured.captured_queries]


def sign_in(client: Client, email: str, code: str) -> None:
    """What a browser does (bench/signin.py): the form, the password, the code form, the code."""
    page = client.get("/signin/")
    assert page.status_code == 200
    answer = client.post(
        "/signin/",
        {"email": email, "password": PASSWORD, "csrfmiddlewaretoken": _token(page)},
    )
    assert answer.status_code == 302
    assert answer["Location"] == "/signin/verify/"
    page = client.get("/signin/verify/")
    assert page.status_code == 200
    answer = client.post("/signin/verify/", {"code": code, "csrfmiddlewaretoken": _token(page)})
    assert answer.status_code == 302, answer
    assert answer["Location"] == "/security-info/"


@pytest.mark.django_db(transaction=True)
def test_password_and_totp_sign_in_statements(alice: Any, alice_totp: Any, clock: Any) -> None:
    _method, secret = alice_totp
    sign_in(Client(enforce_csrf_checks=True), alice.email, code_for(secret, clock))  # warm
    clock.advance(seconds=30)
    browser = Client(enforce_csrf_checks=True)
    with CaptureQueriesContext(connection) as captured:
        sign_in(browser, alice.email, code_for(secret, clock))
    statements = _statements(captured)
    print(f"\n{len(statements)} statements:\n" + "\n".join(s[:160] for s in statements))
    # A new browser, signed in: the session is live (the next page is the signed-in one).
    assert browser.get("/security-info/").status_code == 200
    # Was 64 (with BEGIN and COMMIT; issue 20 counted 34 without the session's, 43 in all):
    # sessions written once per request that changes them, no lookup before a new key, single
    # DELETEs without a transaction around them (44). Then 39: the person's methods read once
    # per request (vahva.web.memo, was twice on each verify request), their permissions in
    # one UNION (was two statements), and a throttle refund's clear and give-back in one
    # DELETE ... RETURNING (was two per step). 42 on main on 2026-12-07 (later merges), then
    # 35: has_methods and first_registered_at from the memoised methods (one read, was two),
    # the attempt INSERTed in its state (was INSERT then UPDATE), the trusted networks kept
    # per process (read once here: the clock moved past their 10 s), no push requests read or
    # withdrawn when none was begun, the long-gone browsers' DELETE once per 10 minutes per
    # process, and no methods read after a person's own method has just answered. Then 34:
    # signing in moves the session row to its new key in one UPDATE (was DELETE + INSERT).
    # Then 31: the person read once on the password step (the throttle key's read and
    # ModelBackend's get_by_natural_key were two), and on SQLite no savepoint around the MFA
    # reservation inside the answer's IMMEDIATE transaction (two statements).
    assert len(statements) <= (31 if connection.vendor == "sqlite" else 33)


@pytest.mark.django_db(transaction=True)
def test_validation_check_statements(alice: Any, alice_totp: Any, clock: Any) -> None:
    from vahva.validate import clients

    _method, secret = alice_totp
    key = clients.add("VPN gateway").key
    api = Client()

    def check(code: str) -> Any:
        return api.post(
            "/api/validate/v1/check",
            data={"user": alice.email, "code": code},
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
        )

    assert check(code_for(secret, clock)).json()["accepted"] is True  # warm (last_used_at)
    clock.advance(seconds=30)
    with CaptureQueriesContext(connection) as captured:
        answer = check(code_for(secret, clock))
    assert answer.status_code == 200
    assert answer.json()["accepted"] is True
    statements = _statements(captured)
    print(f"\n{len(statements)} statements:\n" + "\n".join(s[:160] for s in statements))
    # The same code again: refused (single use), whatever the statement count.
    assert check(code_for(secret, clock)).status_code == 400
    # One write transaction: the person, their methods and the account key's throttle state
    # read under the key's lock, the step consumed and the audit row, committed together.
    assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == [
        statements[1],
        statements[-1],
    ]
    # Was 12, then 10: the API key, BEGIN, one statement (person, methods, the account key's
    # throttle row: on PostgreSQL made if missing and locked), the counter's UPDATE, the audit
    # row, COMMIT; on PostgreSQL the key's row is removed again (DELETE).
    assert len(statements) <= (6 if connection.vendor == "sqlite" else 7)


@pytest.mark.django_db(transaction=True)
def test_refresh_grant_statements(alice_totp: Any, mail: Any, clock: Any) -> None:  # noqa: F811
    from tests.oidc.helpers import authorize_url, code_from, exchange
    from tests.oidc.test_flow import sign_in_with_code

    _method, secret = alice_totp
    browser = Client()
    code = code_from(sign_in_with_code(browser, secret, clock, authorize_url(mail.client_id)))
    first = exchange(browser, mail, code).json()
    service = Client()  # the relying party's server: no cookies
    second = exchange(
        service, mail, "", grant_type="refresh_token", refresh_token=first["refresh_token"]
    ).json()
    clock.advance(60)
    with CaptureQueriesContext(connection) as captured:
        answer = exchange(
            service, mail, "", grant_type="refresh_token", refresh_token=second["refresh_token"]
        )
    assert answer.status_code == 200, answer.content
    statements = _statements(captured)
    print(f"\n{len(statements)} statements:\n" + "\n".join(s[:160] for s in statements))
    # Rotation: the refresh token just used is refused from now on (and revokes the family).
    again = exchange(
        service, mail, "", grant_type="refresh_token", refresh_token=second["refresh_token"]
    )
    assert again.status_code == 400
    # Was 32: the toolkit's read-back of the new access token (for a signal no one hears),
    # of the ID token it had just signed (and of its application), the person read again for
    # the door, and their permissions in two statements, are gone; the service's settings
    # come with the authorization (26). Then 24: has_methods, first_registered_at and
    # has_phishing_resistant from the person's methods read once (were three queries).
    # Then 13 (vahva.oidc.rotation): the refresh token read with its person and compared
    # with the client by id (3 reads were 1), the old pair revoked by a conditional UPDATE
    # and one DELETE (9 statements were 2), the ID token one INSERT (was BEGIN, INSERT,
    # COMMIT).
    assert len(statements) <= 13


@pytest.mark.django_db(transaction=True)
def test_signed_push_answer_statements(
    alice: Any,
    make_phone: Any,  # noqa: F811
    push: Any,  # noqa: F811
    clock: Any,
) -> None:
    """The app's approval of a sign-in request (the two-node push bench's p99 is set by it)."""
    from tests.authenticator.conftest import number_of
    from vahva.authenticator import signed
    from vahva.authenticator.models import PushChallenge

    signed._nonces_forgotten_at.clear()  # as in a new process: the enrolment's requests run it
    phone = make_phone(alice)
    clock.advance(seconds=1)
    challenge = push(alice, phone)
    (listed,) = phone.challenges()
    number = number_of(listed)  # read from the screen the person signs in on
    with CaptureQueriesContext(connection) as captured:
        answer = phone.answer(listed, "approve", number)
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"challenge": str(challenge.pk), "state": "approved"}
    statements = _statements(captured)
    print(f"\n{len(statements)} statements:\n" + "\n".join(s[:160] for s in statements))
    assert PushChallenge.objects.get(pk=challenge.pk).state == "approved"
    # Single use and first answer wins: the same answer again, freshly signed, is refused.
    assert phone.answer(listed, "approve", number).status_code == 409
    # Was 12 (2026-12-07): the nonce's INSERT and the stale nonces' DELETE in a transaction of
    # their own, then the challenge read, the targets read again, the answer's transaction,
    # and the challenge read back. Now 8: one write transaction (nonce, answer, audit row),
    # the challenge and its devices in one read, no read-back, the stale nonces' DELETE at
    # most once a minute per process (not here: the enrolment's answer just ran it).
    assert len(statements) <= 8
