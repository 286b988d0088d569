"""argon2id computed holding the GIL (vahva.accounts.exclusive_argon2): the same hashes and
answers as argon2-cffi's calls, and no other thread running meanwhile."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import argon2
import pytest
from argon2.exceptions import HashingError, InvalidHashError
from argon2.low_level import Type
from django.contrib.auth.hashers import Argon2PasswordHasher
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import sign_in_password, text
from vahva.accounts import exclusive_argon2, hashers
from vahva.accounts.hashers import VahvaArgon2Hasher

pytestmark = pytest.mark.skipif(
    not exclusive_argon2.available(), reason="argon2-cffi's library cannot be opened with ctypes"
)

# Cheap parameters for the many hashes of the fuzzing below; the hasher's own are tested too.
CHEAP = {"time_cost": 1, "memory_cost": 64, "parallelism": 1, "hash_len": 16}
SALT = b"0123456789abcdef"


def hashed_by(
    hash_secret: Any,
    secret: bytes = b"x",
    *,
    salt: bytes = SALT,
    type: Type = Type.ID,
    **changes: int,
) -> bytes:
    """``hash_secret`` (argon2-cffi's or ours) with the cheap parameters, as ``changes`` say."""
    return bytes(hash_secret(secret, salt, type=type, **{**CHEAP, **changes}))


def cffi_verifies(encoded: bytes, secret: bytes) -> bool:
    try:
        return argon2.PasswordHasher().verify(encoded, secret)
    except argon2.exceptions.VerificationError:
        return False


@pytest.mark.parametrize("type", [Type.ID, Type.I, Type.D])
def test_the_same_hash_as_argon2_cffi_for_each_type(type: Type) -> None:
    ours = hashed_by(exclusive_argon2.hash_secret, b"correct horse", type=type)
    assert ours == hashed_by(argon2.low_level.hash_secret, b"correct horse", type=type)
    assert exclusive_argon2.verify(ours, b"correct horse")
    assert not exclusive_argon2.verify(ours, b"correct horsf")


@settings(max_examples=60, deadline=None)
@given(
    secret=st.binary(max_size=64),
    other=st.binary(max_size=64),
    salt=st.binary(min_size=8, max_size=24),
)
def test_answers_as_argon2_cffi_does(secret: bytes, other: bytes, salt: bytes) -> None:
    """Any bytes (NUL and non-UTF-8 included): the same hash, and the same yes and no."""
    encoded = hashed_by(argon2.low_level.hash_secret, secret, salt=salt)
    assert hashed_by(exclusive_argon2.hash_secret, secret, salt=salt) == encoded
    assert exclusive_argon2.verify(encoded, secret) is True
    assert exclusive_argon2.verify(encoded, other) is cffi_verifies(encoded, other)


@pytest.mark.parametrize(
    "encoded",
    [
        b"$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc$",  # no hash
        b"$argon2id$v=19$m=64,t=1,p=1$$aGFzaA",  # no salt
        b"$argon2id$v=19$m=64,t=1$MDEyMzQ1Njc$aGFzaGhhc2hoYXNo",  # no parallelism
        b"$argon2id$v=19$m=99999999999,t=1,p=1$MDEyMzQ1Njc$aGFzaGhhc2hoYXNo",
    ],
)
def test_a_damaged_stored_hash_verifies_nothing(encoded: bytes) -> None:
    # argon2-cffi raises a VerificationError for these, which Django's hasher answers False.
    assert cffi_verifies(encoded, b"anything") is False
    assert exclusive_argon2.verify(encoded, b"anything") is False


def test_an_unknown_header_raises_as_argon2_cffi_does() -> None:
    for verify in (exclusive_argon2.verify, argon2.PasswordHasher().verify):
        with pytest.raises(InvalidHashError):
            verify(b"$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaA", b"anything")


def test_parameters_the_library_refuses_raise_hashing_error() -> None:
    with pytest.raises(HashingError, match="Memory cost is too small"):
        hashed_by(exclusive_argon2.hash_secret, memory_cost=1)
    # Larger than the C function's 32-bit parameter: refused, not silently cut to another cost.
    with pytest.raises(OverflowError):
        hashed_by(exclusive_argon2.hash_secret, time_cost=2**32 + 1)


# --- the hasher ---------------------------------------------------------------------------------


@pytest.fixture
def exclusive_on(settings: Any) -> None:
    settings.VAHVA = {**settings.VAHVA, "ARGON2_EXCLUSIVE": "always"}
    assert hashers.exclusive()


def test_the_hasher_encodes_as_djangos_with_the_same_salt(exclusive_on: None) -> None:
    ours = VahvaArgon2Hasher()
    stock = Argon2PasswordHasher()
    stock.time_cost, stock.memory_cost, stock.parallelism = 2, 19456, 1
    salt = ours.salt()
    encoded = ours.encode("pässwörd", salt)
    assert encoded == stock.encode("pässwörd", salt)
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert ours.verify("pässwörd", encoded)
    assert stock.verify("pässwörd", encoded)
    assert not ours.verify("passwörd", encoded)


def test_a_person_signs_in_with_the_hash_holding_the_gil(
    exclusive_on: None, alice_totp: Any, client: Any, monkeypatch: Any
) -> None:
    """What people see is what they see without it: the right password takes them on to
    the code, a wrong one and an unknown address (hashed too) are refused alike."""
    calls: list[str] = []
    for name in ("verify", "hash_secret"):
        real = getattr(exclusive_argon2, name)
        monkeypatch.setattr(
            exclusive_argon2,
            name,
            lambda *args, _real=real, _name=name, **kwargs: (
                calls.append(_name) or _real(*args, **kwargs)
            ),
        )
    wrong = sign_in_password(client, password="wrong password")
    unknown = sign_in_password(client, email="nobody@example.org")
    assert wrong.status_code == unknown.status_code == 400
    assert "The e-mail address or the password is not right." in text(wrong)
    assert "The e-mail address or the password is not right." in text(unknown)
    answer = sign_in_password(client)
    assert answer.status_code == 302
    assert answer["Location"] == "/signin/verify/"
    # Each of the three took its hash this way: the wrong password, the unknown address
    # (Django hashes what was typed, to take as long), the right password.
    assert calls == ["verify", "hash_secret", "verify"]


def test_settings_choose_and_auto_follows_the_cores(monkeypatch: Any, settings: Any) -> None:
    monkeypatch.setattr(exclusive_argon2, "cores", lambda: 2.0)
    assert exclusive_argon2.wanted("auto", workers=1) is False  # a core for the other threads
    assert exclusive_argon2.wanted("auto", workers=2) is True  # a core per worker
    assert exclusive_argon2.wanted("always", workers=1) is True
    assert exclusive_argon2.wanted("never", workers=4) is False
    monkeypatch.setattr(exclusive_argon2, "cores", lambda: 1.0)
    assert exclusive_argon2.wanted("auto", workers=1) is True
    monkeypatch.setattr(exclusive_argon2, "cores", lambda: 3.5)  # a CPU quota of 3.5
    assert exclusive_argon2.wanted("auto", workers=2) is True  # 1.75 each: no second core
    assert exclusive_argon2.wanted("auto", workers=1) is False
    settings.VAHVA = {**settings.VAHVA, "ARGON2_EXCLUSIVE": "never"}
    assert hashers.exclusive() is False


def test_a_cgroup_quota_limits_the_cores(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("50000 100000\n")  # half a core (a container's CPU limit)
    assert exclusive_argon2.cores(cpu_max) == min(affinity, 0.5)
    cpu_max.write_text("max 100000\n")  # no limit
    assert exclusive_argon2.cores(cpu_max) == affinity
    cpu_max.write_text("garbage\n")
    assert exclusive_argon2.cores(cpu_max) == affinity
    cpu_max.write_text("50000 0\n")
    assert exclusive_argon2.cores(cpu_max) == affinity
    assert exclusive_argon2.cores(tmp_path / "absent") == affinity


# --- the GIL ------------------------------------------------------------------------------------


@pytest.fixture
def no_forced_switch() -> Iterator[None]:
    """No thread loses the GIL to another but by letting it go (a blocking call, a C call
    that releases it): what happens during a call is then the call's doing alone."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def test_no_other_thread_runs_while_it_hashes(no_forced_switch: None) -> None:
    # vahva's parameters: a hash long enough for the other thread to get a turn in it.
    encoded = hashed_by(
        argon2.low_level.hash_secret, b"secret", time_cost=2, memory_cost=19456, hash_len=32
    )
    steps = [0]
    stop = threading.Event()

    def other_thread() -> None:
        while not stop.is_set():
            steps[0] += 1
            os.sched_yield()  # lets the GIL go, as a request thread's every database call does

    thread = threading.Thread(target=other_thread)
    thread.start()
    try:
        # argon2-cffi's call lets the GIL go: the other thread runs while it hashes.
        for _ in range(50):
            before = steps[0]
            argon2.PasswordHasher().verify(encoded, b"secret")
            if steps[0] != before:
                break
        else:
            pytest.fail("the other thread never ran during argon2-cffi's hashes")
        # Ours keeps it: not one step, hash after hash.
        for _ in range(5):
            before = steps[0]
            assert exclusive_argon2.verify(encoded, b"secret")
            assert steps[0] == before
    finally:
        stop.set()
        thread.join()
