"""The ID-token signing keys: one active RSA key and the retired ones that still verify.

Keys live as PEM files in ``<data dir>/oidc/`` (owner-only). Rotating moves the active key to
``retired-<epoch>.pem`` and makes a new one; a retired key stays in the JWKS until every ID
token it signed has expired, so services keep verifying tokens across a rotation.
This module runs while Django's settings load, so it imports nothing from Django.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ACTIVE = "signing-key.pem"
RETIRED_PREFIX = "retired-"


def generate_pem() -> str:
    """A new 2048-bit RSA private key (RS256, what every OIDC client library verifies)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _write_new(path: Path, pem: str) -> bool:
    """Write ``pem`` to ``path`` unless it exists (two workers starting at once: one wins)."""
    try:
        # Owner-only: whoever reads this key can sign ID tokens for any person.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(pem)
    return True


def ensure(directory: Path) -> Path:
    """The active key's path, creating the directory and the key on first start."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    active = directory / ACTIVE
    if not active.exists():
        _write_new(active, generate_pem())
    return active


@dataclass(frozen=True)
class KeySet:
    active: str
    retired: list[str]


def retired_files(directory: Path) -> list[tuple[int, Path]]:
    """(retired at, path) for each retired key, newest first."""
    found = []
    for path in directory.glob(f"{RETIRED_PREFIX}*.pem"):
        stamp = path.stem.removeprefix(RETIRED_PREFIX)
        if stamp.isdigit():
            found.append((int(stamp), path))
    return sorted(found, reverse=True)


def load(directory: Path) -> KeySet:
    active = ensure(directory)
    return KeySet(
        active=active.read_text(encoding="ascii"),
        retired=[path.read_text(encoding="ascii") for _at, path in retired_files(directory)],
    )


@dataclass(frozen=True)
class Rotation:
    retired: Path
    dropped: list[Path]


def rotate(directory: Path, *, keep_seconds: int, now: float | None = None) -> Rotation:
    """Retire the active key, make a new one, drop retired keys older than ``keep_seconds``."""
    moment = int(time.time() if now is None else now)
    active = ensure(directory)
    retired = directory / f"{RETIRED_PREFIX}{moment}.pem"
    os.replace(active, retired)
    _write_new(active, generate_pem())
    dropped = []
    for at, path in retired_files(directory):
        if moment - at > keep_seconds:
            path.unlink()
            dropped.append(path)
    return Rotation(retired=retired, dropped=dropped)
