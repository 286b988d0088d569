"""The authenticator room's public functions: enrol devices, authenticate their requests, send
push challenges, take answers, report outcomes. Used by the device API, by
:mod:`vahva.methods.app_push` and by the enrolment page.

Every single-use thing (an enrolment link, a challenge's answer, the browser's use of an
approval, a request nonce) is taken with a conditional UPDATE or a unique constraint, never
read-then-write, so two parallel requests cannot both win.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from django.core import mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from vahva.audit.log import record
from vahva.conf import settings
from vahva.errors import MalformedInput, RateLimited

from . import bus, delivery, protocol
from .errors import (
    AlreadyAnswered,
    DeviceRemoved,
    EnrolmentLinkInvalid,
    NoDevice,
    PushDenied,
    PushExpired,
    PushHeld,
    PushPending,
    ReplayedRequest,
    UnknownChallenge,
    UnknownDevice,
    WrongNumber,
)
from .models import Device, EnrolmentLink, PushChallenge, SeenRequest

log = logging.getLogger(__name__)

State = PushChallenge.State
#: Wrong numbers typed for one challenge before it counts as denied: a person guessing (or
#: tapping through numbers on an attacker's instruction) does not get all 90 tries.
MAX_WRONG_NUMBERS = 3
#: Pushes one sign-in attempt may send ("Send another request"): no push bombing.
MAX_PUSHES_PER_ATTEMPT = 5


def _uuid(value: object, error: Exception) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise error from None


def _publish(key: uuid.UUID | str | None, outcome: str) -> None:
    if key is not None:
        # After the commit: a woken waiter must find the new state in the database.
        transaction.on_commit(partial(bus.get().publish, str(key), outcome))


# --- enrolment -----------------------------------------------------------------------------


def create_enrolment_link(user: Any, *, enrolment: uuid.UUID, now: dt.datetime, ttl: int) -> str:
    """A new one-time code for ``user``'s pending enrolment; returns the code (not stored)."""
    code = protocol.new_enrolment_code()
    EnrolmentLink.objects.create(
        user=user,
        enrolment=enrolment,
        code_hash=protocol.hash_code(code),
        created_at=now,
        expires_at=now + dt.timedelta(seconds=ttl),
    )
    return code


def enrol_device(
    *, code: object, public_key: ec.EllipticCurvePublicKey, name: object, now: dt.datetime
) -> tuple[Device, PushChallenge]:
    """Register a device's key with a one-time code; send it the test notification.

    EnrolmentLinkInvalid for an unknown, expired or used code (one answer for all three: the
    code is the only secret, so nothing is learnt from telling them apart).
    """
    code = protocol.check_code(code)
    clean_name = protocol.clean_device_name(name)
    link = EnrolmentLink.objects.filter(code_hash=protocol.hash_code(code)).first()
    if link is None:
        raise EnrolmentLinkInvalid()
    with transaction.atomic():
        # Single use: of two phones scanning the same QR, one UPDATE matches; the other fails.
        taken = EnrolmentLink.objects.filter(
            pk=link.pk, used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        if not taken:
            raise EnrolmentLinkInvalid()
        device = Device.objects.create(
            user_id=link.user_id,
            name=clean_name,
            public_key=protocol.spki(public_key),
            status=Device.Status.ENROLLED,
            created_at=now,
            # The app's offline code, for when the phone has no connection.
            totp_secret=protocol.new_totp_secret(),
        )
        EnrolmentLink.objects.filter(pk=link.pk).update(device=device)
        challenge = _new_challenge(
            link.user_id,
            purpose=PushChallenge.Purpose.TEST,
            enrolment=link.enrolment,
            devices=[device],
            now=now,
            context={},
        )
    return device, challenge


@dataclass(frozen=True)
class EnrolmentStatus:
    """Where an enrolment is, for the computer's page: "waiting" for a device, "testing"
    (test notification sent), "approved", "denied" or "expired"."""

    state: str
    device: str = ""
    number: int | None = None
    #: What the browser posts to finish once approved: the test challenge's id.
    response: str = ""

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"state": self.state}
        if self.device:
            data["device"] = self.device
        if self.number is not None:
            data["number"] = self.number
        if self.response:
            data["response"] = self.response
        return data


def enrolment_status(
    user: Any, enrolment: object, *, now: dt.datetime, resend: bool = False
) -> EnrolmentStatus:
    """The state of ``user``'s enrolment; with ``resend``, a new test notification replaces one
    that was denied or expired ("Send another request")."""
    enrolment_id = _uuid(enrolment, EnrolmentLinkInvalid())
    link = (
        EnrolmentLink.objects.filter(user=user, enrolment=enrolment_id)
        .select_related("device")
        .order_by("-created_at")
        .first()
    )
    if link is None:
        return EnrolmentStatus("expired")
    device = link.device
    if device is None or device.status == Device.Status.REMOVED:
        return EnrolmentStatus("waiting" if link.expires_at > now else "expired")
    test = _latest(PushChallenge.objects.filter(enrolment=enrolment_id, targets=device))
    state = (
        protocol.effective_state(test.state, expires_at=test.expires_at, now=now)
        if test
        else "expired"
    )
    if resend and state not in (State.PENDING, State.APPROVED):
        try:
            test = _new_challenge(
                link.user_id,
                purpose=PushChallenge.Purpose.TEST,
                enrolment=enrolment_id,
                devices=[device],
                now=now,
                context={},
            )
        except RateLimited:
            return EnrolmentStatus(state, device=device.name)
        state = State.PENDING
    assert test is not None
    if state == State.PENDING:
        return EnrolmentStatus("testing", device=device.name, number=test.number)
    if state == State.APPROVED and test.consumed_at is None:
        return EnrolmentStatus("approved", device=device.name, response=test.pk.hex)
    if state == State.REPORTED:
        state = State.DENIED
    return EnrolmentStatus(str(state), device=device.name)


def finish_test(user: Any, enrolment: object, response: object, *, now: dt.datetime) -> Device:
    """Use the approved test notification ``response`` of ``user``'s enrolment, once, and
    activate its device. PushPending / PushDenied / PushExpired / AlreadyAnswered else."""
    enrolment_id = _uuid(enrolment, MalformedInput())
    challenge_id = _uuid(response, MalformedInput())
    challenge = (
        PushChallenge.objects.filter(
            pk=challenge_id,
            user=user,
            enrolment=enrolment_id,
            purpose=PushChallenge.Purpose.TEST,
        )
        .select_related("answered_by")
        .first()
    )
    if challenge is None:
        raise UnknownChallenge()
    device = _consume(challenge, now=now)
    # Only the device that passed its own test becomes active.
    Device.objects.filter(pk=device.pk, status=Device.Status.ENROLLED).update(
        status=Device.Status.ACTIVE
    )
    device.refresh_from_db()
    if device.status != Device.Status.ACTIVE:
        raise DeviceRemoved()
    return device


# --- signed requests -----------------------------------------------------------------------


def authenticate(
    *,
    device_id: str,
    timestamp: str,
    nonce: str,
    signature: str,
    method: str,
    path: str,
    body: bytes,
    now: dt.datetime,
) -> Device:
    """The device that signed this request; a typed error when it did not, or not freshly."""
    pk = _uuid(device_id, UnknownDevice())
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
    remember_nonce(device, nonce, timestamp=ts, window=window, now=now)
    return device


def remember_nonce(
    device: Device, nonce: str, *, timestamp: int, window: int, now: dt.datetime
) -> None:
    """Accept ``nonce`` once per device while its request is fresh.

    Replay: a captured request sent again inside the freshness window carries the same nonce
    and hits the unique (device, nonce) constraint.
    """
    until = dt.datetime.fromtimestamp(timestamp + window + 1, tz=dt.UTC)
    try:
        # One write transaction per signed request: remember this nonce, forget the device's
        # nonces whose requests are stale anyway.
        with transaction.atomic():
            SeenRequest.objects.create(device=device, nonce=nonce, expires_at=until)
            SeenRequest.objects.filter(device=device, expires_at__lt=now).delete()
    except IntegrityError:
        raise ReplayedRequest() from None


# --- challenges ----------------------------------------------------------------------------


def _latest(challenges: Any) -> PushChallenge | None:
    found: PushChallenge | None = challenges.order_by("-serial", "-created_at").first()
    return found


def _new_challenge(
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
    attempt_id = _uuid(attempt, MalformedInput())
    current = _latest(PushChallenge.objects.filter(user=user, attempt=attempt_id))
    if current is not None:
        state = protocol.effective_state(current.state, expires_at=current.expires_at, now=now)
        if state == State.PENDING or (state == State.APPROVED and current.consumed_at is None):
            return current
    ids = []
    for pk in device_ids:
        with contextlib.suppress(NoDevice):
            ids.append(_uuid(pk, NoDevice()))
    devices = list(Device.objects.filter(user=user, pk__in=ids, status=Device.Status.ACTIVE))
    if not devices:
        raise NoDevice()
    if held_until(user, now=now) is not None:
        # Push fatigue: after "it wasn't me", the thief's next tries do not reach the phone.
        raise PushHeld()
    return _new_challenge(
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
    pk = _uuid(challenge, UnknownChallenge())
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
    attempt_id = _uuid(attempt, MalformedInput())
    current = _latest(PushChallenge.objects.filter(user=user, attempt=attempt_id))
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
    attempt_id = _uuid(attempt, MalformedInput())
    current = _latest(
        PushChallenge.objects.filter(user=user, attempt=attempt_id).select_related("answered_by")
    )
    if current is None:
        raise PushExpired()
    return _consume(current, now=now)


def _consume(challenge: PushChallenge, *, now: dt.datetime) -> Device:
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
    pk = _uuid(challenge, UnknownChallenge())
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
            _publish(found.attempt or found.enrolment, State.EXPIRED)
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
        _publish(found.attempt or found.enrolment, target)
        # The other devices' open apps: this request is no longer waiting for them.
        for other in found.targets.exclude(pk=device.pk).values_list("pk", flat=True):
            _publish(delivery.device_key(other), "answered")
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
        _publish(key, State.DENIED)


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
        _publish(challenge.attempt or challenge.enrolment, State.DENIED)
        raise WrongNumber(
            _("That is not the number shown on the sign-in page. The request was denied.")
        )
    raise WrongNumber()


# --- devices -------------------------------------------------------------------------------


def remove_device(device: Device, *, now: dt.datetime) -> bool:
    """Remove a device: its signatures are refused from now on. False if it already was."""
    return bool(
        Device.objects.filter(pk=device.pk)
        .exclude(status=Device.Status.REMOVED)
        .update(status=Device.Status.REMOVED, removed_at=now, push_subscription="")
    )


def set_push_subscription(device: Device, subscription: Mapping[str, Any]) -> dict[str, Any]:
    """Store the device's Web Push subscription after the SSRF checks; returns what was kept."""
    clean = protocol.check_push_subscription(
        subscription, allow_private=settings.PUSH_ALLOW_PRIVATE_ENDPOINTS
    )
    device.push_subscription = json.dumps(clean, separators=(",", ":"))
    device.save(update_fields=["push_subscription"])
    return clean


def remove_device_of(user: Any, device_id: object, *, now: dt.datetime) -> bool:
    """Remove ``user``'s device ``device_id`` (its method was removed); False if unknown."""
    try:
        pk = _uuid(device_id, UnknownDevice())
    except UnknownDevice:
        return False
    device = Device.objects.filter(pk=pk, user=user).first()
    return device is not None and remove_device(device, now=now)


def forget_totp_secret(device: Device) -> None:
    Device.objects.filter(pk=device.pk).update(totp_secret="")
    device.totp_secret = ""


def devices_of(user: Any) -> list[Device]:
    return list(
        Device.objects.filter(user=user)
        .exclude(status=Device.Status.REMOVED)
        .order_by("created_at")
    )
