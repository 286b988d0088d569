"""The validation API counts a guess before it checks it: 50 parallel wrong codes from a
gateway, each request in its own thread with its own database connection, get only the
person's free tries checked, and the lock holds at exactly its limit."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from django.test import Client

from tests.conftest import totp_code
from tests.signin.parallel import at_once, count_checks, needs_shared_database
from tests.validate.conftest import CHECK
from vahva.audit.models import AuditEvent
from vahva.signin import throttle

pytestmark = pytest.mark.django_db(transaction=True)

ALICE = "alice@example.org"
BURST = 50


def _post(api_key: str, code: str) -> int:
    response = Client().post(
        CHECK,
        data=json.dumps({"user": ALICE, "code": code}).encode(),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    return int(response.status_code)


def test_fifty_parallel_wrong_codes_get_only_the_free_tries_checked(
    api_key: str, alice_totp: tuple[Any, str], clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_shared_database()
    method, secret = alice_totp
    right = totp_code(secret, clock())
    wrong = "000000" if right != "000000" else "111111"
    reached = count_checks(monkeypatch, "totp")

    statuses = Counter(at_once(BURST, lambda _n: _post(api_key, wrong)))
    assert statuses == {400: 5, 429: BURST - 5}
    assert len(reached) == 5
    assert AuditEvent.objects.filter(action="validate.check", outcome="failure").count() == 5
    assert throttle.failures_of(f"mfa:acct:{method.user.pk}") == 5
    clock.advance(1)
    assert _post(api_key, right) == 200


def test_fifty_parallel_wrong_codes_stop_at_exactly_the_lock(
    api_key: str,
    alice_totp: tuple[Any, str],
    clock: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    needs_shared_database()
    settings.VAHVA = {
        **settings.VAHVA,
        "THROTTLE_MFA_ACCOUNT": {
            "free": 1000,
            "base": 1.0,
            "cap": 1.0,
            "limit": 20,
            "forget": None,
        },
    }
    method, secret = alice_totp
    right = totp_code(secret, clock())
    reached = count_checks(monkeypatch, "totp")

    statuses = Counter(
        at_once(BURST, lambda _n: _post(api_key, "000000" if right != "000000" else "111111"))
    )
    assert statuses == {400: 20, 423: BURST - 20}
    assert len(reached) == 20
    assert throttle.failures_of(f"mfa:acct:{method.user.pk}") == 20
    assert AuditEvent.objects.filter(action="signin.locked").count() == 1
    assert _post(api_key, right) == 423


def test_fifty_parallel_checks_of_one_right_code_accept_it_once(
    api_key: str, alice_totp: tuple[Any, str], clock: Any
) -> None:
    """A gateway's retransmissions, or an attacker who saw the code: 50 requests carrying the
    same right code at once. One is accepted; the others are replays (counted as wrong
    guesses, so after the free tries they are throttled); one success in the audit trail."""
    needs_shared_database()
    method, secret = alice_totp
    right = totp_code(secret, clock())

    statuses = Counter(at_once(BURST, lambda _n: _post(api_key, right)))
    assert statuses == {200: 1, 400: 5, 429: BURST - 6}
    assert AuditEvent.objects.filter(action="validate.check", outcome="ok").count() == 1
    failures = AuditEvent.objects.filter(action="validate.check", outcome="failure")
    assert set(failures.values_list("reason", flat=True)) == {"ReplayedCode"}
    assert failures.count() == 5
    method.refresh_from_db()
    assert method.counter == int(clock().timestamp()) // 30
    # Within the window, later, the code is still refused.
    clock.advance(20)
    assert _post(api_key, right) in {400, 429}
    assert AuditEvent.objects.filter(action="validate.check", outcome="ok").count() == 1
