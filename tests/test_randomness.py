"""vahva.randomness: Django's random strings, drawn in one system call each."""

from __future__ import annotations

import collections
import os
from collections.abc import Callable

import pytest
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.middleware import csrf
from django.utils.crypto import RANDOM_STRING_CHARS
from hypothesis import given
from hypothesis import strategies as st

from vahva import randomness
from vahva.randomness import random_string
from vahva.sessions.store import SessionStore


class Draws:
    """os.urandom as vahva.randomness sees it: the given bytes, batch by batch, counted."""

    def __init__(self, *batches: bytes) -> None:
        self.batches = collections.deque(batches)
        self.sizes: list[int] = []

    def __call__(self, size: int) -> bytes:
        self.sizes.append(size)
        batch = self.batches.popleft()
        assert len(batch) <= size
        return batch


Install = Callable[..., Draws]


@pytest.fixture
def draws(monkeypatch: pytest.MonkeyPatch) -> Install:
    def install(*batches: bytes) -> Draws:
        fake = Draws(*batches)
        monkeypatch.setattr(randomness.os, "urandom", fake)
        return fake

    return install


@given(
    alphabet=st.sets(st.characters(), min_size=1, max_size=300).map("".join),
    length=st.integers(min_value=0, max_value=80),
)
def test_length_and_alphabet_as_djangos(alphabet: str, length: int) -> None:
    drawn = random_string(length, alphabet)
    assert len(drawn) == length
    assert set(drawn) <= set(alphabet)


def test_nothing_to_draw_is_empty_and_an_empty_alphabet_fails_as_djangos() -> None:
    assert random_string(0, "") == ""
    assert random_string(-3) == ""
    with pytest.raises(IndexError):
        random_string(5, "")


def test_a_string_is_one_system_call(draws: Install) -> None:
    fake = draws(bytes(range(40)))
    assert random_string(32) == RANDOM_STRING_CHARS[:32]
    assert len(fake.sizes) == 1


def test_bytes_past_the_last_whole_alphabet_are_thrown_away(draws: Install) -> None:
    # Three characters: 255 = 3 * 85 bytes map evenly; byte 255 would make "a" likelier (a
    # biased token), so it is skipped. 254 % 3 == 2: "c".
    draws(bytes([255, 0, 255, 1, 2, 254]))
    assert random_string(4, "abc") == "abcc"


def test_a_batch_thrown_away_is_drawn_again(draws: Install) -> None:
    # 62 characters: bytes 248-255 are thrown away; a batch of nothing else draws again, and
    # only what is still missing (plus the spare).
    fake = draws(bytes([250] * 10), bytes([0, 1, 2]))
    assert random_string(2) == "ab"
    assert fake.sizes == [2 + randomness._SPARE, 2 + randomness._SPARE]


def test_characters_are_uniform() -> None:
    # 62 characters, 62,000 draws: each 1,000 times give or take 31 (one standard deviation);
    # the bounds are 5.5 of those, which a fair draw misses once in ~400,000 runs. A modulo
    # without rejection gives the first eight characters 5 bytes of 256 and the others 4:
    # 1,211 against 969 of these draws.
    counts = collections.Counter(random_string(62_000))
    assert set(counts) == set(RANDOM_STRING_CHARS)
    assert max(counts.values()) < 1_175
    assert min(counts.values()) > 825


def test_djangos_csrf_draws_with_it() -> None:
    # WebConfig.ready() installed it: the token's secret and masks come from random_string.
    assert csrf.get_random_string is random_string
    secret = csrf._get_new_csrf_string()
    assert len(secret) == csrf.CSRF_SECRET_LENGTH
    assert set(secret) <= set(csrf.CSRF_ALLOWED_CHARS)
    token = csrf._mask_cipher_secret(secret)
    # Django's own checks of a token it receives: the format, then the unmasked secret.
    csrf._check_token_format(token)
    assert csrf._unmask_cipher_token(token) == secret


def test_session_keys_are_djangos_length_and_alphabet(draws: Install) -> None:
    fake = draws(os.urandom(40))
    key = SessionStore()._get_new_session_key()
    assert len(key) == 32
    assert set(key) <= set(VALID_KEY_CHARS)
    assert len(fake.sizes) == 1
