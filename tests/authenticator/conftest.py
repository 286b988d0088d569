"""Fixtures: enrolments, enrolled phones, sign-in pushes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.authenticator.device import TestDevice
from vahva.authenticator import service
from vahva.authenticator.models import PushChallenge
from vahva.methods import registry
from vahva.methods.models import PendingEnrolment


@pytest.fixture
def enrolment(alice: Any, clock: Any) -> PendingEnrolment:
    """Alice's pending vahva app enrolment; ``.secret`` is the one-time code of the QR link."""
    pending: PendingEnrolment = registry.get("app_push").start_enrolment(alice, now=clock())
    return pending


def number_of(challenge: dict[str, Any] | PushChallenge) -> int:
    """The number the browser shows (read from the database, as the page would)."""
    pk = challenge.pk if isinstance(challenge, PushChallenge) else challenge["id"]
    return int(PushChallenge.objects.get(pk=pk).number)


@pytest.fixture
def make_phone(clock: Any) -> Callable[..., TestDevice]:
    """Enrol a phone for ``user`` through the device API and save the method, as the pages do."""

    def make(user: Any, name: str = "Alice's phone") -> TestDevice:
        method = registry.get("app_push")
        pending = method.start_enrolment(user, now=clock())
        phone = TestDevice(name=name)
        assert phone.enroll(pending.secret).status_code == 200
        (test,) = phone.challenges()
        assert phone.answer(test, "approve", number_of(test)).status_code == 200
        method.finish_enrolment(pending, uuid.UUID(test["id"]).hex, now=clock())
        return phone

    return make


@pytest.fixture
def phone(alice: Any, make_phone: Callable[..., TestDevice]) -> TestDevice:
    return make_phone(alice)


@pytest.fixture
def push(clock: Any) -> Callable[..., PushChallenge]:
    """A sign-in push for a new attempt of ``user``, to the given phones."""

    def send(user: Any, *phones: TestDevice, attempt: uuid.UUID | None = None) -> PushChallenge:
        return service.push_for_attempt(
            user,
            attempt=attempt or uuid.uuid4(),
            device_ids=[p.id for p in phones],
            now=clock(),
            context={"ip": "198.51.100.7", "service": "Mail"},
        )

    return send


@pytest.fixture(autouse=True)
def _nonces_not_forgotten_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new process would: the stale nonces' DELETE is due."""
    from vahva.authenticator import signed

    monkeypatch.setattr(signed, "_nonces_forgotten_at", [])
