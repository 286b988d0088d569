"""Importing a batch of tokens: RFC 6030's own PSKC examples (plain, with device info, PBKDF2
encrypted), CSV files, and files an attacker or a bad export would send."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tests.methods.token_helpers import oathtool
from vahva.audit.models import AuditEvent
from vahva.methods.hardware_token import oath
from vahva.methods.hardware_token.importing import BadBatch, read_csv, read_pskc, save_batch
from vahva.methods.hardware_token.models import Algorithm, HardwareToken

pytestmark = pytest.mark.django_db

HERE = Path(__file__).parent / "pskc"


def _import(path: Path, *args: str) -> str:
    out = io.StringIO()
    call_command("tokens", "import", str(path), *args, stdout=out)
    return out.getvalue()


def test_rfc6030_figure3_imports_with_its_serial_digits_and_counter() -> None:
    assert "Imported 1 token(s)" in _import(HERE / "figure3.pskcxml")
    token = HardwareToken.objects.get()
    assert (token.serial, token.algorithm, token.digits, token.counter) == (
        "987654321",
        Algorithm.HOTP,
        8,
        0,
    )
    assert token.manufacturer == "Manufacturer"
    assert token.batch == "figure3.pskcxml"
    # The imported secret gives the codes oathtool gives for it.
    secret = oath.secret_bytes(token.secret)
    assert oath.code(secret, 0, digits=8) == oathtool(
        "--hotp", "--digits=8", "--counter=0", secret.hex()
    )
    event = AuditEvent.objects.get(action="tokens.imported")
    assert event.data["count"] == 1


def test_rfc6030_figure7_needs_its_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CommandError, match="encrypted"):
        _import(HERE / "figure7.pskcxml")
    with pytest.raises(CommandError, match="could not be decrypted"):
        _import(HERE / "figure7.pskcxml", "--passphrase", "wrong")
    assert not HardwareToken.objects.exists()
    monkeypatch.setenv("VAHVA_PSKC_PASSPHRASE", "qwerty")
    _import(HERE / "figure7.pskcxml")
    token = HardwareToken.objects.get()
    assert token.serial == "987654321"
    # (The RFC says "hex"; the decrypted secret is the 20 ASCII digits of Appendix D.)
    assert oath.secret_bytes(token.secret) == b"12345678901234567890"


def test_a_short_secret_is_refused() -> None:
    # Figure 2's secret is "1234": 32 bits, guessable from a few codes.
    with pytest.raises(BadBatch, match="128 bits"):
        read_pskc((HERE / "figure2.pskcxml").read_bytes())


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not xml at all",
        b"<KeyContainer",
        # XXE: an external entity reading a local file.
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<KeyContainer xmlns="urn:ietf:params:xml:ns:keyprov:pskc">&x;</KeyContainer>',
        # Billion laughs.
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b'<KeyContainer xmlns="urn:ietf:params:xml:ns:keyprov:pskc">&b;</KeyContainer>',
        b'<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc"/>',
    ],
)
def test_files_that_are_not_tokens_are_refused_clearly(data: bytes) -> None:
    with pytest.raises(BadBatch) as refused:
        read_pskc(data)
    assert str(refused.value.message)


def test_csv_in_hex_and_base32_with_types() -> None:
    data = (
        b"# serial,secret,type,digits,period\n"
        b"TK1,3132333435363738393031323334353637383930\n"
        b"TK2,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp,8,60\n"
    )
    seeds = read_csv(data)
    assert save_batch(seeds, batch="stock.csv", now=_now()) == 2
    one, two = HardwareToken.objects.order_by("serial")
    assert (one.algorithm, one.digits, one.counter) == (Algorithm.HOTP, 6, 0)
    assert (two.algorithm, two.digits, two.period, two.counter) == (Algorithm.TOTP, 8, 60, -1)
    assert oath.secret_bytes(one.secret) == oath.secret_bytes(two.secret) == b"12345678901234567890"


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("TK1", "expected serial,secret"),
        ("TK1,zz-not-a-secret", "neither hex nor base32"),
        ("TK1,31323334", "128 bits"),
        ("TK1,3132333435363738393031323334353637383930,sms", "hotp or totp"),
        ("TK1,3132333435363738393031323334353637383930,hotp,9", "6 to 8 digits"),
        ("TK1,3132333435363738393031323334353637383930,totp,6,0", "1 to 300 seconds"),
        ("TK1,3132333435363738393031323334353637383930,totp,six", "numbers"),
        (",3132333435363738393031323334353637383930", "serial number"),
    ],
)
def test_a_bad_csv_line_is_named_and_nothing_is_saved(line: str, says: str) -> None:
    data = f"TK0,3132333435363738393031323334353637383930\n{line}\n".encode()
    with pytest.raises(BadBatch, match=says) as refused:
        read_csv(data)
    assert "Line 2" in str(refused.value.message)
    assert not HardwareToken.objects.exists()


def test_a_serial_already_in_stock_refuses_the_whole_batch(tmp_path: Path) -> None:
    first = tmp_path / "first.csv"
    first.write_text("TK1,3132333435363738393031323334353637383930\n")
    _import(first)
    again = tmp_path / "again.csv"
    again.write_text(
        "TK2,3132333435363738393031323334353637383930\n"
        "TK1,4142434445464748494a4b4c4d4e4f5051525354\n"
    )
    with pytest.raises(CommandError, match="already imported: TK1"):
        _import(again)
    # Nothing half-saved, and the token in stock keeps its secret.
    assert list(HardwareToken.objects.values_list("serial", flat=True)) == ["TK1"]
    assert oath.secret_bytes(HardwareToken.objects.get().secret) == b"12345678901234567890"


def test_tokens_list_says_whose_each_is(alice: Any, tmp_path: Path) -> None:
    stock = tmp_path / "stock.csv"
    stock.write_text("TK1,3132333435363738393031323334353637383930\n")
    _import(stock)
    HardwareToken.objects.update(reserved_for=alice)
    out = io.StringIO()
    call_command("tokens", "list", stdout=out)
    assert out.getvalue().split("\t")[0] == "TK1"
    assert "reserved for alice@example.org" in out.getvalue()
    # The secret is never printed.
    assert "3132" not in out.getvalue()
    assert "GEZD" not in out.getvalue()


def _now() -> Any:
    import datetime as dt

    return dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
