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
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core import mail
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from vahva import bus, metrics
from vahva.audit.log import record
from vahva.conf import settings
from vahva.errors import MalformedInput, RateLimited

from . import delivery, protocol
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
from .signals import fraud_reported

log = logging.getLogger(__name__)

State = PushChallenge.State
#: Wrong numbers typed for one challenge before it counts as denied: a person guessing (or
#: tapping through numbers on an attacker's instruction) does not get all 90 tries.
MAX_WRONG_NUMBERS = 3
#: Pushes one sign-in attempt may send ("Send another request"): no push bombing.
MAX_PUSHES_PER_ATTEMPT = 5
#: Seconds a helpdesk check waits for its answer: the agent reads the number out on the phone
#: and the person has to find and open the app first.
HELPDESK_CHECK_TTL = 180
#: Helpdesk checks one person may get within HELPDESK_CHECK_WINDOW seconds: a caller (or an
#: agent talked into it) cannot wear the real person down with request after request.
MAX_HELPDESK_CHECKS = 3
HELPDESK_CHECK_WINDOW = 15 * 60


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
    ttl: int | None = None,
) -> PushChallenge:
    """A challenge for an attempt, an enrolment, or neither (a helpdesk check, whose caller
    limits it), sent to ``devices`` once the transaction commits."""
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
            user_id=user_id,
            purpose=purpose,
            attempt=attempt,
            enrolment=enrolment,
            serial=serial,
            nonce=protocol.new_nonce(),
            number=protocol.new_number(),
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


# --- the helpdesk's caller check ----------------------------------------------------------


@dataclass(frozen=True)
class HelpdeskCheck:
    """Where a helpdesk check is, for the agent's page: "pending", "approved", "denied",
    "reported" ("I'm not the caller") or "expired"; the number to read out while pending."""

    id: uuid.UUID
    state: str
    number: int
    created_at: dt.datetime
    expires_at: dt.datetime
    #: The name of the device that answered ("" while nobody has).
    device: str = ""
    answered_at: dt.datetime | None = None
    #: The helpdesk ticket it was sent for.
    ticket: str = ""

    @property
    def pending(self) -> bool:
        return self.state == State.PENDING


def _check_of(challenge: PushChallenge, *, now: dt.datetime) -> HelpdeskCheck:
    state = protocol.effective_state(challenge.state, expires_at=challenge.expires_at, now=now)
    # An approval counts only with the number the agent read out (checked again here).
    if state == State.APPROVED and challenge.answered_number != challenge.number:
        state = State.DENIED
    device = challenge.answered_by
    return HelpdeskCheck(
        id=challenge.pk,
        state=str(state),
        number=challenge.number,
        created_at=challenge.created_at,
        expires_at=challenge.expires_at,
        device=device.name if device is not None else "",
        answered_at=challenge.answered_at,
        ticket=str((challenge.context or {}).get("ticket") or ""),
    )


def push_for_helpdesk(
    user: Any, *, now: dt.datetime, ticket: str, agent: Any = None
) -> HelpdeskCheck:
    """Send "The helpdesk is checking it's you" to every active device of ``user`` (or give
    back the check still waiting); NoDevice when there is none, RateLimited after
    MAX_HELPDESK_CHECKS checks within HELPDESK_CHECK_WINDOW seconds."""
    mine = PushChallenge.objects.filter(user=user, purpose=PushChallenge.Purpose.HELPDESK)
    waiting = latest(mine.filter(state=State.PENDING, expires_at__gt=now))
    if waiting is not None:
        # A double click sends one request: the number on the agent's page stays the same.
        return _check_of(waiting, now=now)
    devices = list(Device.objects.filter(user=user, status=Device.Status.ACTIVE))
    if not devices:
        raise NoDevice(_("This person has no vahva app that could receive the request."))
    since = now - dt.timedelta(seconds=HELPDESK_CHECK_WINDOW)
    recent = list(mine.filter(created_at__gt=since).order_by("created_at"))
    if len(recent) >= MAX_HELPDESK_CHECKS:
        # Push fatigue: no endless stream of checks for a tired thumb to approve at last.
        retry = (recent[0].created_at - since).total_seconds()
        raise RateLimited(
            retry,
            _("Too many checks were sent to this person. Try again later, or check another way."),
        )
    challenge = new_challenge(
        user.pk,
        purpose=PushChallenge.Purpose.HELPDESK,
        devices=devices,
        now=now,
        context={"ticket": str(ticket)[:64], "agent": getattr(agent, "pk", None)},
        ttl=max(HELPDESK_CHECK_TTL, settings.PUSH_TTL),
    )
    return _check_of(challenge, now=now)


def helpdesk_check_of(user: Any, check: object, *, now: dt.datetime) -> HelpdeskCheck:
    """The helpdesk check ``check`` of ``user``; UnknownChallenge for anything else (another
    person's check, a sign-in push, a mangled id)."""
    pk = as_uuid(check, UnknownChallenge())
    found = (
        PushChallenge.objects.filter(pk=pk, user=user, purpose=PushChallenge.Purpose.HELPDESK)
        .select_related("answered_by")
        .first()
    )
    if found is None:
        raise UnknownChallenge()
    return _check_of(found, now=now)


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
    metrics.observe_push_told(current.answered_at, now=now)
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
        if found.purpose == PushChallenge.Purpose.HELPDESK:
            _record_helpdesk_answer(found, device, target, request=request)
        elif target != State.APPROVED:
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
            if found.purpose == PushChallenge.Purpose.SIGNIN:
                # (The agent of a helpdesk check sees the report on their own page.)
                transaction.on_commit(partial(_alert_helpdesk, found.pk))
            # In the same transaction: the report and what others do about it (forget the
            # remembered browsers) happen together or not at all.
            fraud_reported.send(sender=PushChallenge, user=device.user, purpose=str(found.purpose))
    found.refresh_from_db()
    return found


def _record_helpdesk_answer(
    check: PushChallenge, device: Device, target: str, *, request: Any, reason: str = ""
) -> None:
    reasons: dict[str, str] = {
        State.APPROVED: "the person approved the helpdesk's check with the number read out",
        State.DENIED: "the person denied the helpdesk's check",
        State.REPORTED: "the person said they are not the one talking to the helpdesk",
    }
    record(
        "helpdesk.caller_check",
        subject=device.user,
        actor=device.user,
        request=request,
        outcome="ok" if target == State.APPROVED else "failure",
        reason=reason or reasons[str(target)],
        state=str(target),
        ticket=str((check.context or {}).get("ticket") or ""),
        device=str(device.pk),
        device_name=device.name,
        challenge=str(check.pk),
    )


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
    helpdesk = challenge.purpose == PushChallenge.Purpose.HELPDESK
    if denied:
        publish(challenge.attempt or challenge.enrolment, State.DENIED)
        if helpdesk:
            _record_helpdesk_answer(
                challenge,
                device,
                State.DENIED,
                request=None,
                reason=f"{MAX_WRONG_NUMBERS} wrong numbers typed for the helpdesk's check",
            )
            raise WrongNumber(
                _("That is not the number the helpdesk read to you. The request was denied.")
            )
        raise WrongNumber(
            _("That is not the number shown on the sign-in page. The request was denied.")
        )
    if helpdesk:
        raise WrongNumber(
            _("That is not the number the helpdesk read to you. Check it and try again.")
        )
    raise WrongNumber()
