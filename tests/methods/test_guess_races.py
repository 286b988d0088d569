"""Temporary access passes and recovery codes are guesses like codes: 50 parallel wrong ones,
each request in its own thread with its own database connection, get only the throttle's
allowance checked (reserve first), and the owner still gets in after the wait."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.test import Client

from tests.helpers import sign_in_password
from tests.signin.parallel import at_once, browser_like, count_checks, needs_shared_database
from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.methods import registry, tap
from vahva.methods import service as methods
from vahva.methods.recovery_codes import method as recovery_codes
from vahva.signin import throttle

pytestmark = pytest.mark.django_db(transaction=True)

BURST = 50
FREE = 5  # THROTTLE_MFA_ACCOUNT's free tries


def _burst(browser: Client, url: str, wrong: str) -> Counter[int]:
    return Counter(
        at_once(
            BURST,
            lambda _n: int(browser_like(browser).post(url, {"code": wrong}).status_code),
        )
    )


def _failed_checks() -> int:
    return AuditEvent.objects.filter(action="signin.mfa", outcome="failure").count()


def test_fifty_parallel_wrong_passes_get_only_the_free_tries_checked(
    alice: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_shared_database()
    _registered, code = tap.issue(alice, now=clock(), ticket="HD-7")
    attacker = Client()  # knows the password, guesses the pass
    assert sign_in_password(attacker)["Location"] == "/signin/verify/"
    reached = count_checks(monkeypatch, "tap")
    wrong = next(c for c in ("2222-2222-2222", "3333-3333-3333") if c != code)

    assert _burst(attacker, "/signin/verify/", wrong) == {400: FREE, 429: BURST - FREE}
    assert len(reached) == FREE
    assert _failed_checks() == FREE
    assert throttle.failures_of(f"mfa:acct:{alice.pk}") == FREE
    # The pass is not spent by the guesses: after the wait, its owner signs in with it.
    clock.advance(1)
    assert attacker.post("/signin/verify/", {"code": code}).status_code == 302


def test_fifty_parallel_wrong_recovery_codes_get_only_the_free_tries_checked(
    alice_totp: tuple[Any, str], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_shared_database()
    method = registry.get("recovery")
    pending = method.start_enrolment(alice_totp[0].user, now=clock())
    codes = method.enrolment_context(pending)["codes"]
    saved = method.finish_enrolment(pending, codes[0], now=clock())
    attacker = Client()
    sign_in_password(attacker)
    url = f"/signin/verify/?method={saved.pk}"
    reached = count_checks(monkeypatch, "recovery")
    # Right index, wrong secret: the closest guess there is.
    wrong = codes[1][:2] + "222-22222-22222-22222-22222"

    assert _burst(attacker, url, wrong) == {400: FREE, 429: BURST - FREE}
    assert len(reached) == FREE
    assert _failed_checks() == FREE
    assert recovery_codes.remaining(methods.get_for(saved.user, saved.pk)) == 10
    clock.advance(1)
    assert attacker.post(url, {"code": codes[1]}).status_code == 302
    assert recovery_codes.remaining(saved) == 9
