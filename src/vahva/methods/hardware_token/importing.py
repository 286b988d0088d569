"""Reading a batch of tokens: a vendor's PSKC file (RFC 6030) or a CSV of serial and secret.

Reading is separate from saving: :func:`read_pskc` / :func:`read_csv` return the tokens or
raise :class:`BadBatch` naming what is wrong (the line or the key), and :func:`save_batch`
saves all of them in one transaction or none (a serial already in stock refuses the batch).
"""

from __future__ import annotations

import base64
import binascii
import csv
import datetime as dt
import io
from dataclasses import dataclass

import defusedxml.ElementTree
import pskc
import pskc.exceptions
from defusedxml import DefusedXmlException
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from vahva.errors import MalformedInput

from .models import Algorithm, HardwareToken

#: The biggest batch file read (a PSKC key package is about 1 KiB: some 10,000 tokens).
MAX_BYTES = 10 * 1024 * 1024
_ALGORITHMS = {
    "urn:ietf:params:xml:ns:keyprov:pskc:hotp": Algorithm.HOTP,
    "urn:ietf:params:xml:ns:keyprov:pskc#hotp": Algorithm.HOTP,
    "urn:ietf:params:xml:ns:keyprov:pskc:totp": Algorithm.TOTP,
    "urn:ietf:params:xml:ns:keyprov:pskc#totp": Algorithm.TOTP,
}
_DIGESTS = {"": "sha1", "sha1": "sha1", "sha256": "sha256", "sha512": "sha512"}


class BadBatch(MalformedInput):
    """The file cannot be imported; the message says where and why."""


@dataclass(frozen=True)
class TokenSeed:
    serial: str
    algorithm: Algorithm
    #: base32, as stored.
    secret: str
    digits: int = 6
    digest: str = "sha1"
    period: int = 30
    counter: int = 0
    manufacturer: str = ""


def _checked(seed: TokenSeed, where: str) -> TokenSeed:
    if not seed.serial or len(seed.serial) > 64 or not seed.serial.isprintable():
        raise BadBatch(_("%(where)s: the serial number is missing or too long.") % {"where": where})
    if seed.digits not in (6, 7, 8):
        raise BadBatch(_("%(where)s: codes must be 6 to 8 digits.") % {"where": where})
    # A secret under 128 bits can be brute-forced from a few observed codes (RFC 4226 §4).
    if len(base64.b32decode(seed.secret + "=" * (-len(seed.secret) % 8))) < 16:
        raise BadBatch(
            _("%(where)s: the secret is shorter than 128 bits (16 bytes).") % {"where": where}
        )
    return seed


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def read_pskc(data: bytes, *, passphrase: str = "", psk: bytes = b"") -> list[TokenSeed]:
    """The tokens of a PSKC file, decrypted with ``passphrase`` (PBKDF2) or ``psk`` (a
    pre-shared AES key) when the file is encrypted."""
    if len(data) > MAX_BYTES:
        raise BadBatch(_("The file is larger than 10 MiB."))
    try:
        # XML bombs and external entities (XXE): refuse any DTD before the PSKC reader, whose
        # XML parser may be lxml, sees the file.
        defusedxml.ElementTree.fromstring(data, forbid_dtd=True)
        container = pskc.PSKC(io.BytesIO(data))
    except (DefusedXmlException, pskc.exceptions.ParseError, SyntaxError, ValueError) as exc:
        raise BadBatch(_("This is not a PSKC file: %(reason)s") % {"reason": exc}) from exc
    try:
        if container.encryption.is_encrypted:
            if passphrase:
                container.encryption.derive_key(passphrase)
            elif psk:
                container.encryption.key = psk
            else:
                raise BadBatch(_("The file is encrypted: give its passphrase or pre-shared key."))
        seeds = [_pskc_seed(key, index) for index, key in enumerate(container.keys, start=1)]
    except pskc.exceptions.PSKCError as exc:
        # A wrong passphrase or key fails the MAC check (or the padding): nothing is imported.
        raise BadBatch(_("The file could not be decrypted: %(reason)s") % {"reason": exc}) from exc
    if not seeds:
        raise BadBatch(_("The file has no tokens."))
    return seeds


def _pskc_seed(key: pskc.key.Key, index: int) -> TokenSeed:
    where = _("Token %(index)d") % {"index": index}
    algorithm = _ALGORITHMS.get(str(key.algorithm or "").lower())
    if algorithm is None:
        raise BadBatch(_("%(where)s: only HOTP and TOTP tokens are supported.") % {"where": where})
    secret = key.secret
    if not secret:
        raise BadBatch(_("%(where)s: the secret is missing.") % {"where": where})
    suite = str(key.algorithm_suite or "").lower().replace("-", "")
    return _checked(
        TokenSeed(
            serial=str(key.serial or key.id or "").strip(),
            algorithm=algorithm,
            secret=_b32(secret),
            digits=int(key.response_length or 6),
            digest=_DIGESTS.get(suite, "sha1"),
            period=int(key.time_interval or 30),
            counter=int(key.counter or 0),
            manufacturer=str(key.manufacturer or "")[:100],
        ),
        where,
    )


def read_csv(data: bytes) -> list[TokenSeed]:
    """``serial,secret[,type[,digits[,period]]]`` a line; the secret in base32 or hex (as
    vendors ship it); type ``hotp`` (default) or ``totp``. Lines starting with # are skipped."""
    if len(data) > MAX_BYTES:
        raise BadBatch(_("The file is larger than 10 MiB."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadBatch(_("The file is not UTF-8 text.")) from exc
    seeds = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        where = _("Line %(line)d") % {"line": number}
        fields = [field.strip() for field in row]
        if len(fields) < 2 or len(fields) > 5:
            raise BadBatch(
                _("%(where)s: expected serial,secret[,type[,digits[,period]]].") % {"where": where}
            )
        kind = (fields[2] if len(fields) > 2 else "hotp").lower() or "hotp"
        if kind not in Algorithm.values:
            raise BadBatch(_("%(where)s: the type is hotp or totp.") % {"where": where})
        try:
            digits = int(fields[3]) if len(fields) > 3 and fields[3] else 6
            period = int(fields[4]) if len(fields) > 4 and fields[4] else 30
        except ValueError as exc:
            raise BadBatch(
                _("%(where)s: digits and period are numbers.") % {"where": where}
            ) from exc
        if not 1 <= period <= 300:
            raise BadBatch(_("%(where)s: the period is 1 to 300 seconds.") % {"where": where})
        seeds.append(
            _checked(
                TokenSeed(
                    serial=fields[0],
                    algorithm=Algorithm(kind),
                    secret=_secret_of(fields[1], where),
                    digits=digits,
                    period=period,
                ),
                where,
            )
        )
    if not seeds:
        raise BadBatch(_("The file has no tokens."))
    return seeds


def _secret_of(text: str, where: str) -> str:
    compact = text.replace(" ", "")
    try:
        if all(c in "0123456789abcdefABCDEF" for c in compact) and len(compact) % 2 == 0:
            return _b32(bytes.fromhex(compact))
        return _b32(base64.b32decode(compact.upper() + "=" * (-len(compact) % 8)))
    except (binascii.Error, ValueError) as exc:
        raise BadBatch(
            _("%(where)s: the secret is neither hex nor base32.") % {"where": where}
        ) from exc


def save_batch(seeds: list[TokenSeed], *, batch: str, now: dt.datetime) -> int:
    """Save every token of the batch, or none: a serial already known (or twice in the file)
    refuses the whole batch, so a re-sent file cannot overwrite a token in use."""
    serials = [seed.serial for seed in seeds]
    if len(set(serials)) != len(serials):
        raise BadBatch(_("The file has the same serial number twice."))
    known = list(HardwareToken.objects.filter(serial__in=serials).values_list("serial", flat=True))
    if known:
        raise BadBatch(
            _("These serial numbers are already imported: %(serials)s.")
            % {"serials": ", ".join(sorted(known)[:10])}
        )
    try:
        with transaction.atomic():
            HardwareToken.objects.bulk_create(
                HardwareToken(
                    serial=seed.serial,
                    algorithm=seed.algorithm,
                    secret=seed.secret,
                    digits=seed.digits,
                    digest=seed.digest,
                    period=seed.period,
                    counter=seed.counter if seed.algorithm == Algorithm.HOTP else -1,
                    manufacturer=seed.manufacturer,
                    batch=batch[:200],
                    imported_at=now,
                )
                for seed in seeds
            )
    except IntegrityError as exc:
        # Two imports of the same file at once: the unique serial refuses the second.
        raise BadBatch(_("These serial numbers are already imported.")) from exc
    return len(seeds)
