"""A burst of parallel requests gets no more caller checks, and no more code looks, than the
limits allow (reserve first): each request in its own thread with its own connection."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyotp
import pytest
from django.test import Client

from tests.signin.parallel import at_once, browser_like, needs_shared_database
from vahva.accounts.models import User
from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.helpdesk.models import CallerCheck
from vahva.methods import registry

pytestmark = pytest.mark.django_db(transaction=True)

BURST = 20


def test_parallel_starts_get_only_the_checks_allowed(
    desk: Client, alice: User, clock: FakeClock, alice_totp: Any
) -> None:
    needs_shared_database()
    registered, _secret = alice_totp
    form = {"caller-way": f"totp:{registered.pk}", "caller-ticket": "INC-3"}
    url = f"/helpdesk/people/{alice.pk}/callers/"
    statuses = Counter(
        at_once(BURST, lambda _n: int(browser_like(desk).post(url, form).status_code))
    )
    assert statuses == {302: 5, 429: BURST - 5}
    assert CallerCheck.objects.filter(user=alice).count() == 5
    refused = AuditEvent.objects.filter(action="helpdesk.caller_check", outcome="failure")
    assert refused.count() == BURST - 5


def test_parallel_guesses_get_only_the_tries_allowed(
    desk: Client,
    alice: User,
    clock: FakeClock,
    alice_totp: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    needs_shared_database()
    registered, secret = alice_totp
    right = pyotp.TOTP(secret).at(clock())
    wrong = [f"{n:06d}" for n in range(BURST + 1) if f"{n:06d}" != right][:BURST]
    started = desk.post(
        f"/helpdesk/people/{alice.pk}/callers/",
        {"caller-way": f"totp:{registered.pk}", "caller-ticket": "INC-4"},
    )
    assert started.status_code == 302
    cls = type(registry.get("totp"))
    real = cls.check_caller
    reached: list[str] = []

    def counting(self: Any, registered: Any, code: str, **kw: Any) -> Any:
        reached.append(code)
        return real(self, registered, code, **kw)

    monkeypatch.setattr(cls, "check_caller", counting)
    url = f"{started['Location']}code/"
    statuses = Counter(
        at_once(
            BURST,
            lambda n: int(browser_like(desk).post(url, {"code": wrong[n]}).status_code),
        )
    )
    assert len(reached) == 3  # HELPDESK_CALLER_TRIES, whatever the burst
    assert statuses[429] >= BURST - 3
    assert CallerCheck.objects.get().tries == 3
