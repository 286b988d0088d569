"""Push challenges: send one to a person's devices, take the first valid answer, tell the
waiting browser, use an approval once; "Deny and report" and the hold that follows it.

Part of the authenticator room's public functions (re-exported by :mod:`.service`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import logging
import uuid
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from django.core import mail
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from vahva.audit.log import record
from vahva.conf import settings
from vahva.errors import MalformedInput, RateLimited

from . import bus, delivery, protocol
from .errors import (
    AlreadyAnswered,
    DeviceRemoved,
    NoDevice,
    PushDenied,
    PushExpired,
    PushHeld,
    PushPending,
    UnknownChallenge,
    WrongNumber,
)
from .models import Device, PushChallenge

log = logging.getLogger(__name__)

State = PushChallenge.State
#: Wrong numbers typed for one challenge before it counts as denied: a person guessing (or
#: tapping through numbers on an attacker's instruction) does not get all 90 tries.
MAX_WRONG_NUMBERS = 3
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


# --- challenges ----------------------------------------------------------------------------


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
) -> PushChallenge:
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
            user_id=user_id,
            purpose=purpose,
            attempt=attempt,
            enrolment=enrolment,
            serial=serial,
            nonce=protocol.new_nonce(),
            number=protocol.new_number(),
            created_at=now,
            expires_at=now + dt.timedelta(seconds=settings.PUSH_TTL),
            context=dict(context),
        )
        targets = list(devices)
        challenge.targets.set(targets)
        transaction.on_commit(
            partial(delivery.dispatch, challenge.pk, [device.pk for device in targets])
        )
    return challenge


def push_for_attempt(
    user: Any,
    *,
    attempt: object,
    device_ids: Iterable[object],
    now: dt.datetime,
    context: Mapping[str, Any],
) -> PushChallenge:
    """The attempt's current push: the pending (or approved, unused) one, else a new one sent to
    every active device of ``user`` among ``device_ids`` (the first answer wins)."""
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
    return new_challenge(
        user.pk,
        purpose=PushChallenge.Purpose.SIGNIN,
        attempt=attempt_id,
        devices=devices,
        now=now,
        context=context,
    )


def held_until(user: Any, *, now: dt.datetime) -> dt.datetime | None:
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


def reports_of(user: Any, *, since: dt.datetime) -> list[PushChallenge]:
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


def attempt_state(user: Any, attempt: object, *, now: dt.datetime) -> str:
    """The state of the attempt's latest push: pending/approved/denied/expired ("reported"
    reads as denied; an approval already used reads as expired). Cheap: one indexed read."""
    return attempt_state_until(user, attempt, now=now)[0]


def attempt_state_until(
    user: Any, attempt: object, *, now: dt.datetime
) -> tuple[str, dt.datetime | None]:
    """:func:`attempt_state`, and when a pending push expires (None once it is not pending)."""
    attempt_id = as_uuid(attempt, MalformedInput())
    current = latest(PushChallenge.objects.filter(user=user, attempt=attempt_id))
    if current is None:
        return "expired", None
    state = protocol.effective_state(current.state, expires_at=current.expires_at, now=now)
    if state == State.PENDING:
        return str(state), current.expires_at
    if state == State.REPORTED:
        return "denied", None
    if state == State.APPROVED and current.consumed_at is not None:
        return "expired", None
    return str(state), None


def use_attempt_approval(user: Any, attempt: object, *, now: dt.datetime) -> Device:
    """Use the approval of the attempt's latest push, exactly once; the device that gave it."""
    attempt_id = as_uuid(attempt, MalformedInput())
    current = latest(
        PushChallenge.objects.filter(user=user, attempt=attempt_id).select_related("answered_by")
    )
    if current is None:
        raise PushExpired()
    return consume(current, now=now)


def consume(challenge: PushChallenge, *, now: dt.datetime) -> Device:
    state = protocol.effective_state(challenge.state, expires_at=challenge.expires_at, now=now)
    if state == State.PENDING:
        raise PushPending()
    if state in (State.DENIED, State.REPORTED):
        raise PushDenied()
    if state == State.EXPIRED:
        raise PushExpired()
    device = challenge.answered_by
    # Number matching, checked again: an approval is only ever stored with the right number.
    if challenge.answered_number != challenge.number or device is None:
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


def answer(
    device: Device,
    *,
    challenge: object,
    nonce: str,
    decision: str,
    number: object,
    now: dt.datetime,
    request: Any = None,
) -> PushChallenge:
    """Record ``device``'s signed answer to a challenge; the first valid answer wins."""
    if decision not in protocol.DECISIONS:
        raise MalformedInput(_("The decision must be approve, deny or report."))
    pk = as_uuid(challenge, UnknownChallenge())
    # A device answers only what was sent to it: a challenge of another person, or one sent to
    # other devices only, is unknown here.
    found = PushChallenge.objects.filter(pk=pk, targets=device).first()
    if found is None:
        raise UnknownChallenge()
    # The nonce binds the answer to this very challenge as the device received it.
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), found.nonce.encode()):
        raise MalformedInput(_("The answer does not match the request."))
    state = protocol.effective_state(found.state, expires_at=found.expires_at, now=now)
    if state == State.EXPIRED:
        if PushChallenge.objects.filter(pk=found.pk, state=State.PENDING).update(
            state=State.EXPIRED
        ):
            publish(found.attempt or found.enrolment, State.EXPIRED)
        raise PushExpired()
    if state != State.PENDING:
        raise AlreadyAnswered()
    typed: int | None = None
    target = {"approve": State.APPROVED, "deny": State.DENIED, "report": State.REPORTED}[decision]
    if decision == "approve":
        typed = protocol.parse_number(number)
        if typed != found.number:
            _wrong_number(found, device, now=now)
    with transaction.atomic():
        # First answer wins: the other devices' answers find the state no longer pending.
        moved = PushChallenge.objects.filter(
            pk=found.pk, state=State.PENDING, expires_at__gt=now
        ).update(state=target, answered_by=device, answered_at=now, answered_number=typed)
        if not moved:
            raise AlreadyAnswered()
        Device.objects.filter(pk=device.pk).update(last_used_at=now)
        if target != State.APPROVED:
            # An approval is audited by the sign-in it completes; a refusal only here.
            reported = target == State.REPORTED
            record(
                "push.reported" if reported else "push.denied",
                subject=device.user,
                actor=device.user,
                request=request,
                outcome="failure",
                reason=(
                    "the person said the sign-in request was not theirs"
                    if reported
                    else "the person denied the request"
                ),
                device=str(device.pk),
                device_name=device.name,
                challenge=str(found.pk),
                attempt=str(found.attempt or ""),
                # Where the refused sign-in came from (the request is the phone's).
                signin_ip=str((found.context or {}).get("ip") or ""),
                service=str((found.context or {}).get("service") or ""),
            )
        publish(found.attempt or found.enrolment, target)
        # The other devices' open apps: this request is no longer waiting for them.
        for other in found.targets.exclude(pk=device.pk).values_list("pk", flat=True):
            publish(delivery.device_key(other), "answered")
        if target == State.REPORTED:
            _withdraw_others(found, now=now)
            transaction.on_commit(partial(_alert_helpdesk, found.pk))
    found.refresh_from_db()
    return found


def _withdraw_others(reported: PushChallenge, *, now: dt.datetime) -> None:
    """After "it wasn't me", other sign-in requests waiting for the person are denied too: an
    attacker who started several sign-ins does not get a second chance at a tired thumb."""
    others = PushChallenge.objects.filter(
        user_id=reported.user_id,
        purpose=PushChallenge.Purpose.SIGNIN,
        state=State.PENDING,
        expires_at__gt=now,
    ).exclude(pk=reported.pk)
    keys = list(others.values_list("attempt", flat=True))
    others.update(state=State.DENIED, answered_at=now)
    for key in keys:
        publish(key, State.DENIED)


def _alert_helpdesk(challenge_id: uuid.UUID) -> None:
    """E-mail the helpdesk about a reported request (the audit log has it as well)."""
    address = settings.HELPDESK_EMAIL
    challenge = PushChallenge.objects.filter(pk=challenge_id).select_related("user").first()
    if not address or challenge is None:
        return
    context = challenge.context or {}
    user = challenge.user
    lines = [
        f'{user.email} answered a sign-in request with "Deny and report" (it was not them).',
        f"Time: {challenge.answered_at:%Y-%m-%d %H:%M:%S %Z}",
        f"Address of the sign-in: {context.get('ip') or 'unknown'}",
        f"Service: {context.get('service') or '-'}",
        "",
        "Their password is probably known to someone else: contact them and have it changed.",
        f"Sign-in requests to their app are held for {settings.PUSH_REPORT_HOLD // 60} minutes.",
    ]
    try:
        mail.send_mail(
            f"[{settings.ORGANISATION_NAME}] Reported sign-in request: {user.email}",
            "\n".join(lines),
            None,
            [address],
        )
    except Exception:
        # The alert is also in the audit log ("push.reported"); a mail server being down must
        # not turn the person's report into an error.
        log.exception("could not e-mail the helpdesk about report %s", challenge_id)


def _wrong_number(challenge: PushChallenge, device: Device, *, now: dt.datetime) -> None:
    PushChallenge.objects.filter(pk=challenge.pk, state=State.PENDING).update(
        wrong_numbers=F("wrong_numbers") + 1
    )
    denied = PushChallenge.objects.filter(
        pk=challenge.pk, state=State.PENDING, wrong_numbers__gte=MAX_WRONG_NUMBERS
    ).update(state=State.DENIED, answered_by=device, answered_at=now)
    if denied:
        publish(challenge.attempt or challenge.enrolment, State.DENIED)
        raise WrongNumber(
            _("That is not the number shown on the sign-in page. The request was denied.")
        )
    raise WrongNumber()
