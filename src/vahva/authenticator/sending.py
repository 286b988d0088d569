"""Make a push challenge and send it to devices once the transaction commits; the small
helpers every part of the push flow shares (ids from input, telling waiters, the latest push).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from vahva import bus
from vahva.conf import settings
from vahva.errors import RateLimited

from . import delivery, protocol
from .models import Device, PushChallenge

State = PushChallenge.State
#: Pushes one sign-in attempt may send ("Send another request"): no push bombing.
MAX_PUSHES_PER_ATTEMPT = 5


def as_uuid(value: object, error: Exception) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise error from None


def publish(key: uuid.UUID | str | None, outcome: str) -> None:
    if key is not None:
        # After the commit: a woken waiter must find the new state in the database.
        transaction.on_commit(partial(bus.get().publish, str(key), outcome))


def latest(challenges: Any) -> PushChallenge | None:
    found: PushChallenge | None = challenges.order_by("-serial", "-created_at").first()
    return found


def new_challenge(
    user_id: Any,
    *,
    purpose: str,
    devices: Iterable[Device],
    now: dt.datetime,
    context: Mapping[str, Any],
    attempt: uuid.UUID | None = None,
    enrolment: uuid.UUID | None = None,
    ttl: int | None = None,
    challenge_id: uuid.UUID | None = None,
    match: str = PushChallenge.Match.NUMBER,
) -> PushChallenge:
    """A challenge for an attempt, an enrolment, or neither (a helpdesk check, whose caller
    limits it), sent to ``devices`` once the transaction commits (Web Push included: no push
    service is called inside a transaction). ``challenge_id``: the id it was reserved under;
    ``match``: whether the approval must carry the number (see :class:`PushChallenge.Match`)."""
    serial = 0
    if attempt or enrolment:
        key = {"attempt": attempt} if attempt else {"enrolment": enrolment}
        serial = PushChallenge.objects.filter(**key).count()
    if serial >= MAX_PUSHES_PER_ATTEMPT:
        # Push bombing: a password thief cannot send an endless stream of requests.
        raise RateLimited(
            settings.PUSH_TTL,
            _("Too many requests were sent for this sign-in. Sign in another way or start again."),
        )
    with transaction.atomic():
        challenge = PushChallenge.objects.create(
            id=challenge_id or uuid.uuid4(),
            user_id=user_id,
            purpose=purpose,
            attempt=attempt,
            enrolment=enrolment,
            serial=serial,
            nonce=protocol.new_nonce(),
            number=protocol.new_number(),
            match=PushChallenge.Match(match),
            created_at=now,
            expires_at=now + dt.timedelta(seconds=ttl or settings.PUSH_TTL),
            context=dict(context),
        )
        targets = list(devices)
        challenge.targets.set(targets)
        transaction.on_commit(
            partial(delivery.dispatch, challenge.pk, [device.pk for device in targets])
        )
    return challenge
