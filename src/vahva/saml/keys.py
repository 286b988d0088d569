"""The IdP's signing key and certificate: one active pair and the retired ones still published.

They live in ``<data dir>/saml/``: ``active/`` holds ``key.pem`` (owner-only) and ``cert.pem``;
rotating renames it to ``retired-<epoch>/`` and makes a new pair. The IdP metadata lists the
retired certificates beside the new one until they are dropped, so a service that refreshes
its copy of the metadata keeps accepting responses across a rotation.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ACTIVE = "active"
RETIRED_PREFIX = "retired-"
KEY = "key.pem"
CERT = "cert.pem"
#: A self-signed certificate's lifetime: SAML trusts the key in metadata, not a CA or dates.
CERT_DAYS = 10 * 365


@dataclass(frozen=True)
class KeyPair:
    key_file: Path
    cert_file: Path

    @property
    def cert_pem(self) -> str:
        return self.cert_file.read_text(encoding="ascii")


def _new_pair(directory: Path, common_name: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64] or "vahva")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .sign(key, hashes.SHA256())
    )
    # Owner-only: whoever reads this key can sign assertions for any person.
    fd = os.open(directory / KEY, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    (directory / CERT).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ensure(directory: Path, *, common_name: str = "vahva") -> KeyPair:
    """The active pair, made on first start. Two workers starting at once: the directory
    rename is atomic, one wins and the other uses its pair."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    active = directory / ACTIVE
    if not (active / CERT).exists():
        staging = Path(tempfile.mkdtemp(prefix=".new-", dir=directory))
        try:
            _new_pair(staging, common_name)
            os.rename(staging, active)
        except OSError:
            if not (active / CERT).exists():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return KeyPair(active / KEY, active / CERT)


def retired(directory: Path) -> list[tuple[int, KeyPair]]:
    """(retired at, pair) for each retired pair, newest first."""
    found = []
    for path in directory.glob(f"{RETIRED_PREFIX}*"):
        stamp = path.name.removeprefix(RETIRED_PREFIX)
        if stamp.isdigit() and (path / CERT).exists():
            found.append((int(stamp), KeyPair(path / KEY, path / CERT)))
    return sorted(found, key=lambda item: item[0], reverse=True)


def published_certs(directory: Path) -> list[str]:
    """The certificates the metadata publishes: the active one first, then the retired."""
    return [ensure(directory).cert_pem, *(pair.cert_pem for _at, pair in retired(directory))]


@dataclass(frozen=True)
class Rotation:
    retired: Path
    dropped: list[Path]


def rotate(
    directory: Path, *, keep_seconds: int, common_name: str = "vahva", now: float | None = None
) -> Rotation:
    """Retire the active pair, make a new one, drop retired pairs older than ``keep_seconds``."""
    moment = int(time.time() if now is None else now)
    ensure(directory, common_name=common_name)
    target = directory / f"{RETIRED_PREFIX}{moment}"
    while target.exists():  # two rotations within a second
        target = directory / f"{RETIRED_PREFIX}{int(target.name.removeprefix(RETIRED_PREFIX)) + 1}"
    os.rename(directory / ACTIVE, target)
    ensure(directory, common_name=common_name)
    dropped = []
    for at, pair in retired(directory):
        if moment - at > keep_seconds:
            shutil.rmtree(pair.cert_file.parent)
            dropped.append(pair.cert_file.parent)
    return Rotation(retired=target, dropped=dropped)


PAIRWISE_SECRET = "pairwise.secret"  # noqa: S105 (a file name)


def pairwise_secret(directory: Path) -> bytes:
    """The secret behind persistent NameIDs and pairwise-ids, made on first start and never
    rotated (rotating it would give every person a new identity at every service)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / PAIRWISE_SECRET
    if not path.exists():
        # Owner-only: with it, a service's identifiers could be linked to another's.
        fd, staging = tempfile.mkstemp(prefix=".new-", dir=directory)
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(32).hex().encode("ascii"))
        try:
            # Atomic: a second worker starting at once keeps the first one's secret.
            os.link(staging, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(staging)
    return bytes.fromhex(path.read_text(encoding="ascii").strip())
