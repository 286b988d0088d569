"""The codes a token shows: HOTP (RFC 4226) and TOTP (RFC 6238), as plain functions.

Tested against RFC 4226 Appendix D's vectors and cross-checked with ``oathtool``. Every
candidate in a window is computed and compared in constant time, so the time a check takes
does not say which counter or which digits were close.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from collections.abc import Iterable

from vahva.errors import InvalidCode

DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
#: HOTP: how far ahead of the stored counter a code is looked for (button presses that never
#: reached us). RFC 4226 §7.4 suggests a small look-ahead; resynchronisation covers more.
LOOK_AHEAD = 10
#: Resynchronisation searches this far (two consecutive codes make a false match improbable:
#: about RESYNC_HOTP / 10^12 for 6 digits).
RESYNC_HOTP = 1000
#: TOTP: steps either side of now (clock drift, RFC 6238 §5.2); resynchronisation ±2 hours.
WINDOW = 1
RESYNC_STEPS = 240


def code(secret: bytes, counter: int, *, digits: int = 6, digest: str = "sha1") -> str:
    """RFC 4226 §5.3: the dynamic truncation of HMAC(secret, counter)."""
    mac = hmac.new(secret, struct.pack(">Q", counter), DIGESTS[digest]).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def secret_bytes(stored: str) -> bytes:
    """Secrets are stored as base32 (what a CSV or an authenticator URI carries)."""
    padded = stored.upper() + "=" * (-len(stored) % 8)
    return base64.b32decode(padded)


def _first_match(
    secret: bytes, typed: str, counters: Iterable[int], *, digits: int, digest: str
) -> int:
    matched: int | None = None
    for candidate in counters:
        # Timing attack: every candidate is compared, each in constant time.
        if hmac.compare_digest(code(secret, candidate, digits=digits, digest=digest), typed):
            matched = candidate if matched is None else matched
    if matched is None:
        raise InvalidCode()
    return matched


def match(
    secret: bytes,
    typed: str,
    *,
    around: int,
    behind: int,
    ahead: int,
    digits: int = 6,
    digest: str = "sha1",
) -> int:
    """The counter (HOTP) or time step (TOTP) in [around - behind, around + ahead] whose code
    is ``typed``, the lowest if several; InvalidCode if none."""
    counters = range(max(0, around - behind), around + ahead + 1)
    return _first_match(secret, typed, counters, digits=digits, digest=digest)


def resync(
    secret: bytes,
    first: str,
    second: str,
    *,
    around: int,
    behind: int,
    ahead: int,
    digits: int = 6,
    digest: str = "sha1",
) -> int:
    """The counter of ``second`` when ``first`` and ``second`` are two consecutive codes
    within the window; InvalidCode otherwise."""
    # Only the helpdesk resynchronises (an agent reads out two codes): no timing concern.
    for candidate in range(max(0, around - behind), around + ahead + 1):
        here = code(secret, candidate, digits=digits, digest=digest)
        if here == first and code(secret, candidate + 1, digits=digits, digest=digest) == second:
            return candidate + 1
    raise InvalidCode()
