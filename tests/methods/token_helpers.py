"""Hardware tokens for tests: a token in stock, and the codes it would show."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
from typing import Any

from vahva.methods.hardware_token import oath
from vahva.methods.hardware_token.models import Algorithm, HardwareToken

#: RFC 4226 Appendix D's secret.
RFC_SECRET = b"12345678901234567890"


def stock_token(
    serial: str = "TK0001",
    *,
    algorithm: Algorithm = Algorithm.HOTP,
    secret: bytes = RFC_SECRET,
    digits: int = 6,
    now: dt.datetime | None = None,
    **extra: Any,
) -> HardwareToken:
    return HardwareToken.objects.create(
        serial=serial,
        algorithm=algorithm,
        secret=base64.b32encode(secret).decode().rstrip("="),
        digits=digits,
        counter=0 if algorithm == Algorithm.HOTP else -1,
        imported_at=now or dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        **extra,
    )


def hotp_code(token: HardwareToken, counter: int) -> str:
    return oath.code(oath.secret_bytes(token.secret), counter, digits=token.digits)


def totp_code(token: HardwareToken, moment: dt.datetime, offset: int = 0) -> str:
    step = int(moment.timestamp()) // token.period + offset
    return oath.code(oath.secret_bytes(token.secret), step, digits=token.digits)


def oathtool(*args: str) -> str:
    """The code Debian's oathtool computes (a peer nobody here wrote)."""
    done = subprocess.run(["oathtool", *args], check=True, capture_output=True, text=True)
    return done.stdout.strip()
