"""A signed answer in one write transaction: its nonce is used even when the answer is refused,
a replay is refused whether or not the stale nonces were forgotten yet, and those are forgotten
at most once per FORGET_NONCES_EVERY per process."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from tests.authenticator.device import API, TestDevice
from vahva.authenticator import signed
from vahva.authenticator.models import PushChallenge, SeenRequest

pytestmark = pytest.mark.django_db


def code_of(response: Any) -> str:
    return str(response.json()["error"])


def test_a_refused_answer_uses_its_nonce(
    alice: Any, phone: TestDevice, push: Callable[..., PushChallenge]
) -> None:
    """An attacker who captured one wrong-number answer cannot replay it to count the
    challenge's wrong numbers up to the denial."""
    challenge = push(alice, phone)
    (listed,) = phone.challenges()
    wrong = 10 if challenge.number != 10 else 11
    body = phone.answer_body(listed, "approve", wrong)
    headers = phone.headers("POST", f"{API}/answer", body)
    refused = phone.send("POST", f"{API}/answer", body, headers)
    assert (refused.status_code, code_of(refused)) == (400, "wrong_number")
    for _ in range(3):
        replay = phone.send("POST", f"{API}/answer", body, headers)
        assert (replay.status_code, code_of(replay)) == (401, "replayed_request")
    challenge.refresh_from_db()
    assert challenge.wrong_numbers == 1
    assert challenge.state == "pending"
    # The person can still approve with the number on the screen.
    assert phone.answer(listed, "approve", challenge.number).json()["state"] == "approved"


def test_a_replayed_answer_changes_nothing(
    alice: Any, phone: TestDevice, push: Callable[..., PushChallenge], clock: Any
) -> None:
    first = push(alice, phone)
    (listed,) = phone.challenges()
    body = phone.answer_body(listed, "deny")
    headers = phone.headers("POST", f"{API}/answer", body)
    assert phone.send("POST", f"{API}/answer", body, headers).json()["state"] == "denied"
    # Later in the window, after the stale nonces' DELETE ran again: still refused.
    clock.advance(100)
    phone.pending()
    replay = phone.send("POST", f"{API}/answer", body, headers)
    assert (replay.status_code, code_of(replay)) == (401, "replayed_request")
    first.refresh_from_db()
    assert first.state == "denied"


def test_stale_nonces_are_forgotten_at_most_once_per_interval(
    phone: TestDevice,
    make_phone: Callable[..., TestDevice],
    alice: Any,
    clock: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    every = dt.timedelta(minutes=10)
    monkeypatch.setattr(signed, "FORGET_NONCES_EVERY", every)
    tablet = make_phone(alice, "Tablet")
    path = f"{API}/pending"
    captured = phone.headers("GET", path)
    assert phone.send("GET", path, headers=captured).status_code == 200
    clock.advance(every.total_seconds() / 2)
    # Not due yet: the phone's stale nonce is kept, and its request is refused as stale anyway.
    tablet.pending()
    assert SeenRequest.objects.filter(nonce=captured["Vahva-Nonce"]).exists()
    stale = phone.send("GET", path, headers=captured)
    assert (stale.status_code, code_of(stale)) == (401, "stale_request")
    clock.advance(every.total_seconds() / 2)
    # Due: every device's stale nonces go, in one DELETE; the fresh one stays.
    fresh = tablet.headers("GET", path)
    assert tablet.send("GET", path, headers=fresh).status_code == 200
    assert list(SeenRequest.objects.values_list("nonce", flat=True)) == [fresh["Vahva-Nonce"]]
