"""TOTP: RFC 6238 test vectors, agreement with oathtool, window, replay, input hygiene."""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import subprocess
import threading
from typing import Any

import pyotp
import pytest
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from vahva.errors import InvalidCode, MalformedInput, ReplayedCode
from vahva.methods import registry, service
from vahva.methods.totp import (
    code_at,
    generate_secret,
    match_step,
    normalise_code,
    provisioning_uri,
    step_of,
)

# RFC 6238 Appendix B: the seeds are ASCII "1234567890" repeated to the hash's length.
SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
RFC_VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("unix", "sha1", "sha256", "sha512"), RFC_VECTORS)
def test_rfc6238_vectors(unix: int, sha1: str, sha256: str, sha512: str) -> None:
    for algorithm, expected in (("sha1", sha1), ("sha256", sha256), ("sha512", sha512)):
        secret = base64.b32encode(SEEDS[algorithm]).decode()
        moment = dt.datetime.fromtimestamp(unix, dt.UTC)
        assert code_at(secret, step_of(moment), digits=8, algorithm=algorithm) == expected
        assert match_step(secret, expected, now=moment, digits=8, algorithm=algorithm) == (
            unix // 30
        )


@pytest.mark.skipif(shutil.which("oathtool") is None, reason="apt-get install oathtool")
def test_codes_agree_with_oathtool() -> None:
    secret = generate_secret()
    moment = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    theirs = subprocess.run(
        ["oathtool", "--totp", "-b", "--now", "2026-01-01 12:00:00 UTC", secret],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert code_at(secret, step_of(moment)) == theirs


def test_secret_is_160_bits_and_random() -> None:
    secrets_ = {generate_secret() for _ in range(50)}
    assert len(secrets_) == 50
    assert all(len(base64.b32decode(s)) == 20 for s in secrets_)


def test_window_accepts_one_step_either_side_only() -> None:
    secret = generate_secret()
    now = dt.datetime(2026, 1, 1, 12, 0, 15, tzinfo=dt.UTC)
    current = step_of(now)
    for offset in (-1, 0, 1):
        assert match_step(secret, code_at(secret, current + offset), now=now) == current + offset
    for offset in (-3, -2, 2, 3):
        code = code_at(secret, current + offset)
        if code in {code_at(secret, current + o) for o in (-1, 0, 1)}:
            continue  # a 1-in-a-million collision with a valid code
        with pytest.raises(InvalidCode):
            match_step(secret, code, now=now)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123456", "123456"),
        (" 123 456 ", "123456"),
        ("123-456", "123456"),
        ("\t123456\n", "123456"),
    ],
)
def test_codes_may_contain_the_spaces_apps_show(raw: str, expected: str) -> None:
    assert normalise_code(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "12345",
        "1234567",
        "12a456",
        "abcdef",
        "\u0661\u0662\u0663\u0664\u0665\u0666",
        "12345\uff16",
    ],
)
def test_malformed_codes_are_refused_with_a_message(raw: str) -> None:
    with pytest.raises(MalformedInput) as caught:
        normalise_code(raw)
    assert str(caught.value)


@given(st.text(max_size=40))
def test_any_input_is_a_clean_code_or_a_malformed_input(raw: str) -> None:
    try:
        code = normalise_code(raw)
    except MalformedInput:
        return
    assert len(code) == 6
    assert code.isascii()
    assert code.isdigit()


def test_provisioning_uri_names_issuer_and_account() -> None:
    uri = provisioning_uri("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", account="a@b.org", issuer="Demo U")
    parsed = pyotp.parse_uri(uri)
    assert parsed.issuer == "Demo U"
    assert parsed.name == "a@b.org"
    assert uri.startswith("otpauth://totp/")


# --- the method, with the database ---------------------------------------------------------


def test_a_step_is_never_accepted_twice(alice_totp: tuple[Any, str], clock: Any) -> None:
    method, secret = alice_totp
    totp = registry.get("totp")
    code = pyotp.TOTP(secret).at(clock())
    totp.verify(method, code, now=clock())
    with pytest.raises(ReplayedCode):
        totp.verify(method, code, now=clock())
    # Even a fresh copy of the row (another request) cannot use it again.
    with pytest.raises(ReplayedCode):
        totp.verify(service.get_for(method.user, method.pk), code, now=clock())


def test_an_older_step_in_the_window_is_refused_after_a_newer_one(
    alice_totp: tuple[Any, str], clock: Any
) -> None:
    method, secret = alice_totp
    totp = registry.get("totp")
    totp.verify(method, pyotp.TOTP(secret).at(clock()), now=clock())
    previous = pyotp.TOTP(secret).at(clock() - dt.timedelta(seconds=30))
    with pytest.raises(ReplayedCode):
        totp.verify(service.get_for(method.user, method.pk), previous, now=clock())


@pytest.mark.django_db(transaction=True)
def test_two_parallel_requests_with_the_same_code_only_one_wins(make_user: Any, clock: Any) -> None:
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(":memory"):
        pytest.skip("needs a database shared between threads")
    user = make_user()
    secret = generate_secret()
    method = service.save_new(user, "totp", now=clock(), secret=secret)
    code = pyotp.TOTP(secret).at(clock())
    results: list[str] = []
    barrier = threading.Barrier(2)

    def attempt() -> None:
        own = service.get_for(user, method.pk)  # each "request" reads the row itself
        barrier.wait()
        try:
            registry.get("totp").verify(own, code, now=clock())
            results.append("ok")
        except ReplayedCode:
            results.append("replayed")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["ok", "replayed"]
