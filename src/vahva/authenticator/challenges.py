"""Sign-in pushes: send one to a person's devices (within the person's allowance, see
:mod:`.allowance`), tell the waiting browser where it is, use an approval once; the hold after
"Deny and report".

The answers (:mod:`.answers`), the helpdesk's caller check (:mod:`.helpdesk_checks`) and making
a challenge (:mod:`.sending`) live beside it; their public names are importable from here and
from :mod:`.service` as before.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.db import transaction

from vahva import metrics
from vahva.conf import settings
from vahva.errors import MalformedInput

from . import allowance, delivery, protocol
from .answers import MAX_WRONG_NUMBERS, answer
from .errors import (
    AlreadyAnswered,
    DeviceRemoved,
    NoDevice,
    PushBusy,
    PushCoolingDown,
    PushDenied,
    PushExpired,
    PushHeld,
    PushPaused,
    PushPending,
    TooManyPushes,
    UnknownChallenge,
)
from .helpdesk_checks import (
    HELPDESK_CHECK_TTL,
    HELPDESK_CHECK_WINDOW,
    MAX_HELPDESK_CHECKS,
    HelpdeskCheck,
    helpdesk_check_of,
    push_for_helpdesk,
)
from .models import Device, PushChallenge
from .sending import MAX_PUSHES_PER_ATTEMPT, State, as_uuid, latest, new_challenge, publish

if TYPE_CHECKING:
    from vahva.accounts.models import User

__all__ = [
    "HELPDESK_CHECK_TTL",
    "HELPDESK_CHECK_WINDOW",
    "MAX_HELPDESK_CHECKS",
    "MAX_PUSHES_PER_ATTEMPT",
    "MAX_WRONG_NUMBERS",
    "HelpdeskCheck",
    "State",
    "answer",
    "as_uuid",
    "attempt_state",
    "attempt_state_until",
    "consume",
    "cooling_down_until",
    "held_until",
    "helpdesk_check_of",
    "latest",
    "new_challenge",
    "pending_for",
    "publish",
    "push_for_attempt",
    "push_for_helpdesk",
    "reports_of",
    "state_for_device",
    "use_attempt_approval",
    "withdraw_attempt",
]


def push_for_attempt(
    user: User,
    *,
    attempt: object,
    device_ids: Iterable[object],
    now: dt.datetime,
    context: Mapping[str, Any],
    match: str = PushChallenge.Match.NUMBER,
) -> PushChallenge:
    """The attempt's current push: the pending (or approved, unused) one, else a new one sent to
    every active device of ``user`` among ``device_ids`` (the first answer wins).

    ``match``: :attr:`~PushChallenge.Match.NONE` for a sign-in that cannot show the number
    (approve or deny only); such a request is not sent within ``PUSH_APPROVE_ONLY_COOLDOWN``
    seconds of the person's last deny (PushCoolingDown)."""
    attempt_id = as_uuid(attempt, MalformedInput())
    current = latest(PushChallenge.objects.filter(user=user, attempt=attempt_id))
    if current is not None:
        state = protocol.effective_state(current.state, expires_at=current.expires_at, now=now)
        if state == State.PENDING or (state == State.APPROVED and current.consumed_at is None):
            return current
    ids = []
    for pk in device_ids:
        with contextlib.suppress(NoDevice):
            ids.append(as_uuid(pk, NoDevice()))
    devices = list(Device.objects.filter(user=user, pk__in=ids, status=Device.Status.ACTIVE))
    if not devices:
        raise NoDevice()
    if held_until(user, now=now) is not None:
        # Push fatigue: after "it wasn't me", the thief's next tries do not reach the phone.
        raise PushHeld()
    pause = allowance.check_pause(user, now=now)
    if pause is not None:
        # Push bombing: after a few refused or ignored requests, the thief's next sign-ins
        # reach no phone; the person types the app's offline code (the phone in hand) instead.
        allowance.refused(user, limit=allowance.Limit.PAUSED, attempt=attempt_id, context=context)
        raise PushPaused(pause.until)
    if match == PushChallenge.Match.NONE:
        cooling = cooling_down_until(user, now=now)
        if cooling is not None:
            # Push bombing without a number to type: right after a "Deny" the thief's retry
            # reaches no phone, so a tired thumb is not asked again and again.
            allowance.refused(
                user, limit=allowance.Limit.COOLDOWN, attempt=attempt_id, context=context
            )
            raise PushCoolingDown((cooling - now).total_seconds())
    challenge_id = uuid.uuid4()
    try:
        with transaction.atomic():
            # Reserve first: the request is counted before it exists, let alone is sent.
            allowance.reserve(
                user.pk,
                challenge=challenge_id,
                expires_at=now + dt.timedelta(seconds=settings.PUSH_TTL),
                now=now,
            )
            return new_challenge(
                user.pk,
                purpose=PushChallenge.Purpose.SIGNIN,
                attempt=attempt_id,
                devices=devices,
                now=now,
                context=context,
                challenge_id=challenge_id,
                match=match,
            )
    except (PushBusy, TooManyPushes) as exc:
        mine = latest(PushChallenge.objects.filter(user=user, attempt=attempt_id))
        if mine is not None and mine.state == State.PENDING and mine.expires_at > now:
            # The same sign-in twice at once (a double click): its own request is the one waiting.
            return mine
        limit = allowance.Limit.OPEN if isinstance(exc, PushBusy) else allowance.Limit.WINDOW
        allowance.refused(user, limit=limit, attempt=attempt_id, context=context)
        raise


def held_until(user: User, *, now: dt.datetime) -> dt.datetime | None:
    """Until when sign-in pushes to ``user`` are held after a "Deny and report", or None."""
    since = now - dt.timedelta(seconds=settings.PUSH_REPORT_HOLD)
    reported = (
        PushChallenge.objects.filter(
            user=user, purpose=PushChallenge.Purpose.SIGNIN, state=State.REPORTED
        )
        .filter(answered_at__gt=since)
        .order_by("-answered_at")
        .values_list("answered_at", flat=True)
        .first()
    )
    if reported is None:
        return None
    return reported + dt.timedelta(seconds=settings.PUSH_REPORT_HOLD)


def cooling_down_until(user: User, *, now: dt.datetime) -> dt.datetime | None:
    """Until when approve-only requests to ``user`` wait after their last denied sign-in
    request (a deny, a report, or wrong numbers until denied), or None."""
    cooldown = dt.timedelta(seconds=settings.PUSH_APPROVE_ONLY_COOLDOWN)
    if not cooldown:
        return None
    denied = (
        PushChallenge.objects.filter(
            user=user,
            purpose=PushChallenge.Purpose.SIGNIN,
            state__in=(State.DENIED, State.REPORTED),
            answered_at__gt=now - cooldown,
        )
        .order_by("-answered_at")
        .values_list("answered_at", flat=True)
        .first()
    )
    return None if denied is None else denied + cooldown


def reports_of(user: User, *, since: dt.datetime) -> list[PushChallenge]:
    """The person's "it wasn't me" reports since ``since``, newest first (Security info)."""
    return list(
        PushChallenge.objects.filter(user=user, state=State.REPORTED, answered_at__gte=since)
        .select_related("answered_by")
        .order_by("-answered_at")
    )


def state_for_device(device: Device, challenge: object, *, now: dt.datetime) -> tuple[str, bool]:
    """A challenge sent to ``device``: its state and whether this device answered it (so the
    app can say "answered on another device")."""
    pk = as_uuid(challenge, UnknownChallenge())
    found = PushChallenge.objects.filter(pk=pk, targets=device).first()
    if found is None:
        raise UnknownChallenge()
    state = protocol.effective_state(found.state, expires_at=found.expires_at, now=now)
    return str(state), found.answered_by_id == device.pk


def attempt_state(user: User, attempt: object, *, now: dt.datetime) -> str:
    """The state of the attempt's latest push: pending/approved/denied/reported/expired (an
    approval already used reads as expired). Cheap: one indexed read."""
    return attempt_state_until(user, attempt, now=now)[0]


def attempt_state_until(
    user: User | int, attempt: object, *, now: dt.datetime
) -> tuple[str, dt.datetime | None]:
    """:func:`attempt_state`, and when a pending push expires (None once it is not pending)."""
    attempt_id = as_uuid(attempt, MalformedInput())
    current = latest(PushChallenge.objects.filter(user=user, attempt=attempt_id))
    if current is None:
        return "expired", None
    state = protocol.effective_state(current.state, expires_at=current.expires_at, now=now)
    if state == State.PENDING:
        return str(state), current.expires_at
    if state == State.APPROVED and current.consumed_at is not None:
        return "expired", None
    metrics.observe_push_told(current.answered_at, now=now)
    return str(state), None


def use_attempt_approval(user: User, attempt: object, *, now: dt.datetime) -> Device:
    """Use the approval of the attempt's latest push, exactly once; the device that gave it."""
    attempt_id = as_uuid(attempt, MalformedInput())
    current = latest(
        PushChallenge.objects.filter(user=user, attempt=attempt_id).select_related("answered_by")
    )
    if current is None:
        raise PushExpired()
    return consume(current, now=now)


def withdraw_attempt(user: User, attempt: object, *, now: dt.datetime) -> int:
    """The sign-in finished another way (the app's offline code): its request still waiting
    on the phone is withdrawn, frees the person's next sign-in and is no suspicious attempt
    (``consumed_at`` says the sign-in was completed). Returns how many were withdrawn."""
    attempt_id = as_uuid(attempt, MalformedInput())
    waiting = PushChallenge.objects.filter(user=user, attempt=attempt_id, state=State.PENDING)
    found = list(waiting.prefetch_related("targets"))
    withdrawn = waiting.update(state=State.EXPIRED, consumed_at=now)
    allowance.release(getattr(user, "pk", user), [c.pk for c in found], now=now)
    for challenge in found:
        for device in challenge.targets.all():
            # The open apps drop the request at once.
            publish(delivery.device_key(device.pk), "answered")
    return withdrawn


def consume(challenge: PushChallenge, *, now: dt.datetime) -> Device:
    state = protocol.effective_state(challenge.state, expires_at=challenge.expires_at, now=now)
    if state == State.PENDING:
        raise PushPending()
    if state in (State.DENIED, State.REPORTED):
        raise PushDenied()
    if state == State.EXPIRED:
        raise PushExpired()
    device = challenge.answered_by
    if device is None:
        raise PushDenied()
    # Number matching, checked again: an approval is only ever stored with the right number
    # (a request made without a number to type is the only one approved without it).
    numbered = challenge.match != PushChallenge.Match.NONE
    if numbered and challenge.answered_number != challenge.number:
        raise PushDenied()
    if device.status == Device.Status.REMOVED:
        raise DeviceRemoved()
    # Single use: two tabs (or a replayed form) completing with one approval: one UPDATE wins.
    taken = PushChallenge.objects.filter(
        pk=challenge.pk, state=State.APPROVED, consumed_at__isnull=True
    ).update(consumed_at=now)
    if not taken:
        raise AlreadyAnswered()
    challenge.consumed_at = now
    return device


def pending_for(device: Device, *, now: dt.datetime) -> list[PushChallenge]:
    """Challenges waiting for ``device``'s answer, oldest first."""
    return list(
        PushChallenge.objects.filter(
            targets=device, state=State.PENDING, expires_at__gt=now
        ).order_by("created_at", "pk")
    )
