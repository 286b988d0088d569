"""A device's signed answer to a push challenge: the first valid answer wins; a wrong number
counts against the challenge; "Deny and report" withdraws the person's other requests, alerts
the helpdesk and holds further pushes. A refused sign-in request counts as a suspicious
attempt (:mod:`.allowance`).
"""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from vahva.audit.log import record
from vahva.errors import MalformedInput

from . import alerts, allowance, delivery, protocol
from .errors import AlreadyAnswered, PushExpired, UnknownChallenge, WrongNumber
from .models import Device, PushChallenge
from .sending import State, as_uuid, publish
from .signals import fraud_reported
from .signed import SignedRequest, remember_nonce

#: Wrong numbers typed for one challenge before it counts as denied: a person guessing (or
#: tapping through numbers on an attacker's instruction) does not get all 90 tries.
MAX_WRONG_NUMBERS = 3


#: The refusals of an answer: the request's nonce stays used, and what the refusal itself
#: wrote (a wrong number counted, an expired request marked) is kept.
REFUSALS = (MalformedInput, UnknownChallenge, PushExpired, AlreadyAnswered, WrongNumber)


def answer(
    device: Device,
    *,
    challenge: object,
    nonce: str,
    decision: str,
    number: object,
    now: dt.datetime,
    request: Any = None,
    signed: SignedRequest | None = None,
) -> PushChallenge:
    """Record ``device``'s signed answer to a challenge; the first valid answer wins.

    ``signed``: the device request carrying the answer (the device API), whose nonce is
    remembered in the same write transaction as the answer and its audit row, refused or not.
    """
    if decision not in protocol.DECISIONS:
        raise MalformedInput(_("The decision must be approve, deny or report."))
    pk = as_uuid(challenge, UnknownChallenge())
    refused: Exception | None = None
    with transaction.atomic():
        if signed is not None:
            if signed.device.pk != device.pk:
                raise UnknownChallenge()
            # Replay: a captured answer sent again is refused before it is looked at.
            remember_nonce(signed, now=now)
        try:
            found = _answer(
                device,
                pk,
                nonce=nonce,
                decision=decision,
                number=number,
                now=now,
                request=request,
            )
        except REFUSALS as error:
            refused = error
    if refused is not None:
        raise refused
    return found


def _answer(
    device: Device,
    pk: uuid.UUID,
    *,
    nonce: str,
    decision: str,
    number: object,
    now: dt.datetime,
    request: Any,
) -> PushChallenge:
    # The challenge and every device it was sent to, in one read.
    sent = list(
        PushChallenge.targets.through.objects.filter(pushchallenge_id=pk)
        .select_related("pushchallenge")
        .order_by()
    )
    # A device answers only what was sent to it: a challenge of another person, or one sent to
    # other devices only, is unknown here.
    if not any(row.device_id == device.pk for row in sent):
        raise UnknownChallenge()
    found: PushChallenge = sent[0].pushchallenge
    others = [row.device_id for row in sent if row.device_id != device.pk]
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
    if decision == "approve" and found.match != PushChallenge.Match.NONE:
        # An approval without the right number is refused: the app cannot skip number
        # matching for a sign-in that shows a number (real-time phishing, push bombing).
        typed = protocol.parse_number(number)
        if typed != found.number:
            _wrong_number(found, device, now=now)
    # First answer wins: the other devices' answers find the state no longer pending (the
    # caller's transaction holds the nonce, this and the audit row together).
    moved = PushChallenge.objects.filter(
        pk=found.pk, state=State.PENDING, expires_at__gt=now
    ).update(state=target, answered_by=device, answered_at=now, answered_number=typed)
    if not moved:
        raise AlreadyAnswered()
    Device.objects.filter(pk=device.pk).update(last_used_at=now)
    signin = found.purpose == PushChallenge.Purpose.SIGNIN
    if signin:
        # Answered: the person's next sign-in may send a request again.
        allowance.release(found.user_id, [found.pk], now=now)
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
    for other in others:
        publish(delivery.device_key(other), "answered")
    if target == State.REPORTED:
        _withdraw_others(found, now=now)
        if signin:
            # (The agent of a helpdesk check sees the report on their own page.)
            transaction.on_commit(partial(alerts.report_to_helpdesk, found.pk))
        # In the same transaction: the report and what others do about it (forget the
        # remembered browsers) happen together or not at all.
        fraud_reported.send(sender=PushChallenge, user=device.user, purpose=str(found.purpose))
    if signin and target != State.APPROVED:
        # A refused request is a suspicious attempt: a few of them switch the person to a
        # typed code (push bombing).
        allowance.check_pause(device.user, now=now)
    # As the UPDATE left the row (not read back).
    found.state, found.answered_by, found.answered_at = target, device, now
    found.answered_number = typed
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
    withdrawn = list(others.values_list("pk", "attempt"))
    others.update(state=State.DENIED, answered_at=now)
    allowance.release(reported.user_id, [pk for pk, _attempt in withdrawn], now=now)
    for _pk, key in withdrawn:
        publish(key, State.DENIED)


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
        if challenge.purpose == PushChallenge.Purpose.SIGNIN:
            allowance.release(challenge.user_id, [challenge.pk], now=now)
            # Wrong numbers until denied: a suspicious attempt like any refusal.
            allowance.check_pause(device.user, now=now)
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
