"""Account enumeration through the password throttle (issue #14, item 8): the per-account
limit counts the address typed, so an unknown address is slowed down exactly like an account
that exists, and the answers cannot tell them apart."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from tests.helpers import sign_in_password, text

pytestmark = pytest.mark.django_db

_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def _seen(response: Any, address: str) -> tuple[int, str, str]:
    """What the attacker sees: status, Retry-After and the page, with the address they typed
    (echoed in the form) and the per-request CSRF token blanked out."""
    page = _TOKEN.sub("", text(response)).replace(address, "ADDRESS")
    return response.status_code, response.get("Retry-After", ""), page


def _guess(address: str, ip: str, times: int) -> list[tuple[int, str, str]]:
    client = Client(REMOTE_ADDR=ip)
    return [
        _seen(sign_in_password(client, email=address, password=f"guess {n}"), address)
        for n in range(times)
    ]


def test_an_unknown_address_is_throttled_like_an_existing_one(alice: Any, clock: Any) -> None:
    existing = _guess("alice@example.org", "203.0.113.1", 6)
    unknown = _guess("nobody@example.org", "203.0.113.2", 6)
    assert [status for status, _, _ in existing] == [400] * 5 + [429]
    assert [status for status, _, _ in unknown] == [400] * 5 + [429]
    assert existing == unknown
    assert "Too many failed attempts. Try again in 1 second." in existing[-1][2]
    # After the wait, both answer a wrong password alike again, and both slow down further.
    clock.advance(1)
    assert _guess("alice@example.org", "203.0.113.1", 2) == _guess(
        "nobody@example.org", "203.0.113.2", 2
    )


def test_the_address_is_counted_however_it_is_written(alice: Any, clock: Any) -> None:
    """Case and spaces do not give an attacker five fresh tries per spelling."""
    spellings = [("alice@example.org", 2), ("ALICE@example.org", 2), (" Alice@Example.org", 1)]
    for n, (spelling, times) in enumerate(spellings):
        client = Client(REMOTE_ADDR=f"203.0.113.{10 + n}")
        for _ in range(times):
            assert sign_in_password(client, email=spelling, password="guess").status_code == 400
    refused = sign_in_password(Client(REMOTE_ADDR="203.0.113.20"), email="alice@EXAMPLE.org")
    assert refused.status_code == 429
