"""The authenticator room's public functions: enrol devices, authenticate their requests, send
push challenges, take answers, report outcomes. Used by the device API, by
:mod:`vahva.methods.app_push` and by the enrolment page. The challenges themselves live in
:mod:`.challenges`; their public functions are re-exported here.

Every single-use thing (an enrolment link, a challenge's answer, the browser's use of an
approval, a request nonce) is taken with a conditional UPDATE or a unique constraint, never
read-then-write, so two parallel requests cannot both win.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec
from django.db import transaction

from vahva.conf import settings
from vahva.errors import MalformedInput, RateLimited

from . import challenges, protocol
from .allowance import Pause, pause_of
from .challenges import (
    MAX_PUSHES_PER_ATTEMPT,
    MAX_WRONG_NUMBERS,
    HelpdeskCheck,
    State,
    answer,
    as_uuid,
    attempt_state,
    attempt_state_until,
    held_until,
    helpdesk_check_of,
    pending_for,
    push_for_attempt,
    push_for_helpdesk,
    reports_of,
    state_for_device,
    use_attempt_approval,
    withdraw_attempt,
)
from .errors import (
    DeviceRemoved,
    EnrolmentLinkInvalid,
    UnknownChallenge,
    UnknownDevice,
)
from .models import Device, EnrolmentLink, PushChallenge
from .signed import SignedRequest, remember_nonce, verify_signed

if TYPE_CHECKING:
    from vahva.accounts.models import User

__all__ = [
    "MAX_PUSHES_PER_ATTEMPT",
    "MAX_WRONG_NUMBERS",
    "EnrolmentStatus",
    "HelpdeskCheck",
    "Pause",
    "SignedRequest",
    "answer",
    "attempt_state",
    "attempt_state_until",
    "authenticate",
    "create_enrolment_link",
    "devices_of",
    "enrol_device",
    "enrolment_status",
    "finish_test",
    "forget_totp_secret",
    "held_until",
    "helpdesk_check_of",
    "pause_of",
    "pending_for",
    "push_for_attempt",
    "push_for_helpdesk",
    "remember_nonce",
    "remove_device",
    "remove_device_of",
    "reports_of",
    "set_push_subscription",
    "state_for_device",
    "use_attempt_approval",
    "verify_signed",
    "withdraw_attempt",
]


# --- enrolment -----------------------------------------------------------------------------


def create_enrolment_link(user: User, *, enrolment: uuid.UUID, now: dt.datetime, ttl: int) -> str:
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
        challenge = challenges.new_challenge(
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
    user: User, enrolment: object, *, now: dt.datetime, resend: bool = False
) -> EnrolmentStatus:
    """The state of ``user``'s enrolment; with ``resend``, a new test notification replaces one
    that was denied or expired ("Send another request")."""
    enrolment_id = as_uuid(enrolment, EnrolmentLinkInvalid())
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
    test = challenges.latest(PushChallenge.objects.filter(enrolment=enrolment_id, targets=device))
    state = (
        protocol.effective_state(test.state, expires_at=test.expires_at, now=now)
        if test
        else "expired"
    )
    if resend and state not in (State.PENDING, State.APPROVED):
        try:
            test = challenges.new_challenge(
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


def finish_test(user: User, enrolment: object, response: object, *, now: dt.datetime) -> Device:
    """Use the approved test notification ``response`` of ``user``'s enrolment, once, and
    activate its device. PushPending / PushDenied / PushExpired / AlreadyAnswered else."""
    enrolment_id = as_uuid(enrolment, MalformedInput())
    challenge_id = as_uuid(response, MalformedInput())
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
    device = challenges.consume(challenge, now=now)
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
    signed = verify_signed(
        device_id=device_id,
        timestamp=timestamp,
        nonce=nonce,
        signature=signature,
        method=method,
        path=path,
        body=body,
        now=now,
    )
    remember_nonce(signed, now=now)
    return signed.device


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


def remove_device_of(user: User | int, device_id: object, *, now: dt.datetime) -> bool:
    """Remove ``user``'s device ``device_id`` (its method was removed); False if unknown."""
    try:
        pk = as_uuid(device_id, UnknownDevice())
    except UnknownDevice:
        return False
    device = Device.objects.filter(pk=pk, user=user).first()
    return device is not None and remove_device(device, now=now)


def forget_totp_secret(device: Device) -> None:
    Device.objects.filter(pk=device.pk).update(totp_secret="")
    device.totp_secret = ""


def devices_of(user: User) -> list[Device]:
    return list(
        Device.objects.filter(user=user)
        .exclude(status=Device.Status.REMOVED)
        .order_by("created_at")
    )
