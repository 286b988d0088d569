"""Every guess is counted before it is checked (DESIGN §7): 50 parallel wrong answers, each
request in its own thread with its own database connection, get no more checks than the
throttle allows, and the lock holds at exactly its limit."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.test import Client

from tests.helpers import code_for, sign_in_password, text
from tests.signin.parallel import (
    Counting,
    at_once,
    browser_like,
    count_checks,
    needs_shared_database,
)
from vahva.audit.models import AuditEvent
from vahva.errors import InvalidCode
from vahva.methods import registry
from vahva.signin import engine, throttle

pytestmark = pytest.mark.django_db(transaction=True)

BURST = 50


def _wrong(secret: str, clock: Any) -> str:
    return "000000" if code_for(secret, clock) != "000000" else "111111"


def _failures(action: str) -> int:
    return AuditEvent.objects.filter(action=action, outcome="failure").count()


def test_fifty_parallel_wrong_codes_get_only_the_free_tries_checked(
    alice_totp: tuple[Any, str], clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_shared_database()
    method, secret = alice_totp
    attacker = Client()  # knows the password, guesses the code
    assert sign_in_password(attacker)["Location"] == "/signin/verify/"
    reached = count_checks(monkeypatch, "totp")
    wrong = _wrong(secret, clock)

    def guess(_n: int) -> int:
        return int(browser_like(attacker).post("/signin/verify/", {"code": wrong}).status_code)

    statuses = Counter(at_once(BURST, guess))
    # THROTTLE_MFA_ACCOUNT's 5 free tries, then the back-off: not 50 checks.
    assert statuses == {400: 5, 429: BURST - 5}
    assert len(reached) == 5
    assert throttle.failures_of(f"mfa:acct:{method.user.pk}") == 5
    assert _failures("signin.mfa") == 5
    # The back-off is a wait, not a lockout: after it, the right code signs in.
    clock.advance(1)
    done = attacker.post("/signin/verify/", {"code": code_for(secret, clock)})
    assert done.status_code == 302
    assert throttle.failures_of(f"mfa:acct:{method.user.pk}") == 0


def test_fifty_parallel_wrong_codes_stop_at_exactly_the_lock(
    alice_totp: tuple[Any, str], clock: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_shared_database()
    no_wait = {"free": 1000, "base": 1.0, "cap": 1.0, "forget": None}
    settings.VAHVA = {
        **settings.VAHVA,
        "THROTTLE_MFA_ACCOUNT": {**no_wait, "limit": 20},
        "THROTTLE_MFA_IP": {**no_wait, "limit": None},
    }
    method, secret = alice_totp
    attacker = Client()
    sign_in_password(attacker)
    reached = count_checks(monkeypatch, "totp")
    wrong = _wrong(secret, clock)

    statuses = Counter(
        at_once(
            BURST,
            lambda _n: int(
                browser_like(attacker).post("/signin/verify/", {"code": wrong}).status_code
            ),
        )
    )
    assert statuses == {400: 20, 423: BURST - 20}
    assert len(reached) == 20
    assert throttle.failures_of(f"mfa:acct:{method.user.pk}") == 20
    assert _failures("signin.mfa") == 20
    # Reported once, by the try that reached the limit.
    assert _failures("signin.locked") == 1
    # The lock holds: even the right code is refused now (the helpdesk unlocks).
    locked = attacker.post("/signin/verify/", {"code": code_for(secret, clock)})
    assert locked.status_code == 423
    assert "Contact the helpdesk" in text(locked)
    assert len(reached) == 20


def test_fifty_parallel_wrong_passwords_get_only_the_free_tries_hashed(
    alice: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_shared_database()
    owner = Client()
    assert sign_in_password(owner).status_code == 302  # the owner's browser becomes known
    owner.post("/signout/")
    hashed = Counting(engine.authenticate)
    monkeypatch.setattr(engine, "authenticate", hashed)

    def guess(number: int) -> int:
        attacker = Client(REMOTE_ADDR="203.0.113.7")
        return int(sign_in_password(attacker, password=f"guess {number}").status_code)

    statuses = Counter(at_once(BURST, guess))
    # THROTTLE_PASSWORD_ACCOUNT's 5 free tries, then the back-off.
    assert statuses == {400: 5, 429: BURST - 5}
    assert len(hashed.calls) == 5
    assert _failures("signin.password") == 5
    # The owner's own browser is not slowed down by the attacker's burst.
    assert sign_in_password(owner).status_code == 302


def test_fifty_parallel_forged_passkeys_get_only_the_free_tries_checked(
    alice: Any, clock: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_shared_database()
    settings.VAHVA = {**settings.VAHVA, "PASSKEY_SIGNIN": True}

    def forged(response: str, *, scope: str, now: Any) -> Any:
        raise InvalidCode()

    checked = Counting(forged)
    monkeypatch.setattr(registry.get("webauthn"), "verify_passwordless", checked)

    def attempt(_n: int) -> int:
        browser = Client(REMOTE_ADDR="203.0.113.8")
        return int(browser.post("/signin/passkey/", {"code": '{"id": "x"}'}).status_code)

    statuses = Counter(at_once(BURST, attempt))
    # THROTTLE_MFA_IP's 20 free tries per address, then the back-off.
    assert statuses[429] == BURST - 20
    assert len(checked.calls) == 20
    assert throttle.failures_of("mfa:ip:203.0.113.8") == 20
