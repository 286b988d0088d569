"""A device's signed request: the signature check, and the nonce remembered once per device
while the request is fresh (:mod:`.protocol` has the format)."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

from django.db import connections, router

from vahva.conf import settings

from . import protocol
from .errors import DeviceRemoved, ReplayedRequest, UnknownDevice
from .models import Device, SeenRequest
from .sending import as_uuid


@dataclass(frozen=True)
class SignedRequest:
    """A device request whose signature checked out; its nonce is not remembered yet (see
    :func:`remember_nonce`): the answer remembers it in its own write transaction."""

    device: Device
    nonce: str
    #: When the request's timestamp stops being fresh: until then the nonce must be kept.
    fresh_until: dt.datetime


def verify_signed(
    *,
    device_id: str,
    timestamp: str,
    nonce: str,
    signature: str,
    method: str,
    path: str,
    body: bytes,
    now: dt.datetime,
) -> SignedRequest:
    """The checked signature of a device request, its nonce still to be remembered (by
    :func:`remember_nonce`, before anything the request asks for is done)."""
    pk = as_uuid(device_id, UnknownDevice())
    device = Device.objects.filter(pk=pk).select_related("user").first()
    if device is None:
        raise UnknownDevice()
    ts = protocol.parse_timestamp(timestamp)
    window = settings.DEVICE_REQUEST_WINDOW
    protocol.check_fresh(ts, now=now, window=window)
    protocol.check_nonce(nonce)
    message = protocol.signed_message(
        device=str(device.pk), method=method, path=path, timestamp=ts, nonce=nonce, body=body
    )
    # Forgery: only the holder of the device's private key can produce this signature.
    protocol.verify_signature(protocol.load_spki(device.public_key), message, signature)
    # A removed device (lost phone) can no longer act, even with its key.
    if device.status == Device.Status.REMOVED:
        raise DeviceRemoved()
    until = dt.datetime.fromtimestamp(ts + window + 1, tz=dt.UTC)
    return SignedRequest(device=device, nonce=nonce, fresh_until=until)


def remember_nonce(signed: SignedRequest, *, now: dt.datetime) -> None:
    """Accept the request's nonce once per device while its request is fresh.

    Replay: a captured request sent again inside the freshness window carries the same nonce
    and hits the unique (device, nonce) constraint. One INSERT (atomic by itself, or part of
    the caller's transaction, which a conflict leaves usable: no savepoint around it); the
    stale nonces are forgotten now and then (see :func:`_forget_stale_nonces`).
    """
    connection = connections[router.db_for_write(SeenRequest)]
    meta = SeenRequest._meta
    fields = {field.name: field for field in meta.concrete_fields}
    columns = [fields[name] for name in ("device", "nonce", "expires_at")]
    values = (signed.device.pk, signed.nonce, signed.fresh_until)
    quote = connection.ops.quote_name
    names = ", ".join(quote(str(field.column)) for field in columns)
    # Names from the model, values bound as parameters.
    table = quote(meta.db_table)
    sql = f"INSERT INTO {table} ({names}) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"  # noqa: S608
    params = [f.get_db_prep_save(v, connection) for f, v in zip(columns, values, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.rowcount
    if inserted != 1:
        # Replay: this device's nonce was already used by a request still fresh.
        raise ReplayedRequest()
    _forget_stale_nonces(now=now)


#: How often a process forgets the nonces of stale requests (housekeeping, not security: a row
#: is deleted only once its request's timestamp is refused as stale anyway, so keeping it
#: longer refuses nothing more and deleting it later lets nothing through).
FORGET_NONCES_EVERY = dt.timedelta(minutes=1)
_nonces_forgotten_at: list[dt.datetime] = []
_forgetting_nonces = threading.Lock()


def _forget_stale_nonces(*, now: dt.datetime) -> None:
    """Every device's nonces whose requests are stale, at most once per
    :data:`FORGET_NONCES_EVERY` per process (was: the device's own, at every request)."""
    with _forgetting_nonces:
        last = _nonces_forgotten_at[0] if _nonces_forgotten_at else None
        # Outside [last, last + FORGET_NONCES_EVERY): a clock set back counts as due too.
        if last is not None and last <= now < last + FORGET_NONCES_EVERY:
            return
        _nonces_forgotten_at[:] = [now]
    # Replay: only rows whose expires_at (timestamp + window + 1 s) has passed; their
    # requests fail the freshness check before the nonce is looked at.
    stale = SeenRequest.objects.filter(expires_at__lt=now)
    stale._raw_delete(stale.db)  # one DELETE: no signal listens, nothing refers to a row
