"""Web Push to the vahva app (RFC 8030 delivery, RFC 8291 encryption, RFC 8292 VAPID).

The server's VAPID key pair is made at first use and kept in the database, its private half
encrypted at rest (:class:`.models.VapidKey`); every node signs with the same key.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import IntegrityError, transaction

from vahva import clock

from . import protocol
from .models import VapidKey

#: One key pair per deployment: a fixed primary key, so two nodes starting at once cannot
#: both create one (the loser's INSERT fails and it reads the winner's).
VAPID_KEY_ID = 1


def vapid_key() -> VapidKey:
    """The deployment's VAPID key pair, made on first use."""
    found = VapidKey.objects.filter(pk=VAPID_KEY_ID).first()
    if found is not None:
        return found
    private = ec.generate_private_key(ec.SECP256R1())
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    try:
        with transaction.atomic():
            return VapidKey.objects.create(
                pk=VAPID_KEY_ID,
                public_key=protocol.b64url(point),
                private_key=pem,
                created_at=clock.now(),
            )
    except IntegrityError:
        return VapidKey.objects.get(pk=VAPID_KEY_ID)


def application_server_key() -> str:
    """What the app passes to ``pushManager.subscribe({applicationServerKey})``."""
    return vapid_key().public_key


def notify(challenge_id: uuid.UUID, device_ids: Sequence[uuid.UUID], *, now: dt.datetime) -> None:
    """Send a Web Push about a new challenge to each of ``device_ids`` that has a
    subscription. (Delivery is being built: see the issue's Web Push part.)"""
