"""Call me as a sign-in method: an automated call that says who is calling and asks for # to
approve (:mod:`.calls` places and follows the call)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from vahva.conf import settings
from vahva.errors import ExpiredChallenge, MalformedInput
from vahva.gateways import outbox
from vahva.gateways.models import OutboxMessage
from vahva.methods import service
from vahva.methods.base import Answer, AttemptRef, Method, WizardStep
from vahva.methods.challenges import Approve, Challenge
from vahva.methods.models import PendingEnrolment, RegisteredMethod

from . import common as phone
from .calls import (
    ENDED,
    ENROLMENT_STATES,
    FAILED,
    SIGNIN_STATES,
    CallsHeld,
    calls_held_until,
    page_state,
    place_call,
    use_call,
)
from .models import PhoneCall

if TYPE_CHECKING:
    from vahva.accounts.models import User


class VoiceMethod(phone.PhoneMethod, Method):
    kind = "voice"
    label = _("Phone: call me")
    description = _("We call your phone, and you press # to approve.")
    prompt = _("We're calling your phone. Answer it and press # to continue")
    amr = ("tel",)
    verified_message = _("Call answered. Your phone is set up.")
    answer = Answer.APPROVAL
    send_channel = "voice"
    wizard = WizardStep("phone", _("Phone"))

    def phone_label(self, masked: str) -> str:
        return gettext("Call %(number)s") % {"number": masked}

    def _latest(self, registered: RegisteredMethod, attempt: str) -> PhoneCall | None:
        return (
            PhoneCall.objects.filter(registered=registered, attempt=attempt)
            .order_by("-created_at")
            .first()
        )

    def _shown(
        self, registered: RegisteredMethod, attempt: AttemptRef, *, now: dt.datetime
    ) -> str | None:
        """The sign-in page's call state when no new call is to be placed, else None
        (raises too_soon for a resend before PHONE_RESEND_AFTER)."""
        latest = self._latest(registered, attempt.id)
        if latest is not None and not attempt.resend:
            # A reload shows where the call is; it does not ring again.
            return SIGNIN_STATES[page_state(latest, now=now)]
        placed = latest if latest is not None and latest.state != FAILED else None
        wait = phone.resend_wait(placed.created_at if placed else None, now=now)
        if wait:
            raise phone.too_soon(wait)
        return None

    # --- sign-in ---------------------------------------------------------------------------

    def begin(
        self, registered: RegisteredMethod, *, now: dt.datetime, attempt: AttemptRef | None = None
    ) -> Challenge:
        if attempt is None:
            raise MalformedInput()
        number = str(registered.data.get("number", ""))
        masked = phone.mask(number)
        shown = self._shown(registered, attempt, now=now)
        if shown is not None:
            return Approve(sent_to=masked, state=shown)
        if calls_held_until(registered.user, now=now):
            raise CallsHeld()
        send = phone.Send(number, registered.user, attempt.ip, self.kind)
        try:
            with phone.refusals_audited(now=now), transaction.atomic():
                # Under the send lock, read again: of parallel requests for this attempt the
                # first rings and the others show its call.
                phone.lock_sends()
                shown = self._shown(registered, attempt, now=now)
                if shown is not None:
                    return Approve(sent_to=masked, state=shown)
                call = place_call(
                    registered.user,
                    number,
                    now=now,
                    registered=registered,
                    attempt=attempt,
                    service_name=attempt.service,
                )
                # Reserve first: counted in the transaction that writes the call.
                phone.reserve(send, now=now, message=call.message)
        except phone.LimitReached as full:
            # Nothing rang (rolled back, audited): the page offers the other ways.
            return phone.limit_reached(full, now=now)
        outbox.raise_if_failed(call.message_id)
        return Approve(sent_to=masked)

    def held_until(self, user: User, *, now: dt.datetime) -> dt.datetime | None:
        # After "0#" (not me), no call rings for this person for a while.
        return calls_held_until(user, now=now)

    def status(self, registered: RegisteredMethod, *, attempt: AttemptRef, now: dt.datetime) -> str:
        return self.status_until(registered, attempt=attempt, now=now)[0]

    def status_until(
        self, registered: RegisteredMethod, *, attempt: AttemptRef, now: dt.datetime
    ) -> tuple[str, dt.datetime | None]:
        call = self._latest(registered, attempt.id)
        state = SIGNIN_STATES[page_state(call, now=now)]
        return state, call.expires_at if call is not None and state == "pending" else None

    def verify(self, registered: RegisteredMethod, response: str, *, now: dt.datetime) -> None:
        # The response is the attempt's id, from the browser session (never typed).
        attempt = str(service.parse_uuid(response))
        use_call(PhoneCall.objects.filter(registered=registered, attempt=attempt), now=now)
        service.touch(registered, now=now)

    # --- enrolment -------------------------------------------------------------------------

    def start_enrolment(self, user: User, *, now: dt.datetime) -> PendingEnrolment:
        return service.new_pending(user, self.kind, now=now, ttl=settings.ENROLMENT_TTL)

    def deliver_enrolment(
        self, pending: PendingEnrolment, *, now: dt.datetime, ip: str | None
    ) -> OutboxMessage:
        if calls_held_until(pending.user, now=now):
            raise CallsHeld()
        call = place_call(
            pending.user,
            str(pending.data["number"]),
            now=now,
            pending=pending,
            attempt=AttemptRef(id="", ip=ip),
            service_name="",
        )
        assert call.message is not None
        return call.message

    def last_delivery(self, pending: PendingEnrolment) -> dt.datetime | None:
        # A call that could not be placed does not hold back the next one.
        return (
            PhoneCall.objects.filter(pending=pending)
            .exclude(state=FAILED)
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )

    def _enrolment_call(self, pending: PendingEnrolment) -> PhoneCall | None:
        return PhoneCall.objects.filter(pending=pending).order_by("-created_at").first()

    def enrolment_status(self, pending: PendingEnrolment, *, now: dt.datetime) -> dict[str, Any]:
        call = self._enrolment_call(pending)
        state = page_state(call, now=now)
        shown, message = ENROLMENT_STATES.get(state, ("expired", ENDED))
        return {
            "state": shown,
            "message": str(message),
            # 32 hex digits: the enrolment form takes at most 32 characters.
            "response": call.pk.hex if call and shown == "approved" else "",
        }

    def enrolment_context(self, pending: PendingEnrolment) -> dict[str, Any]:
        from vahva import clock

        return {
            **super().enrolment_context(pending),
            "status": self.enrolment_status(pending, now=clock.now()),
        }

    def finish_enrolment(
        self, pending: PendingEnrolment, response: str, *, now: dt.datetime, name: str = ""
    ) -> RegisteredMethod:
        call_id = service.parse_uuid(response)
        if pending.expires_at <= now:
            raise ExpiredChallenge()
        pending.refresh_from_db(fields=["data", "kind"])
        number = str(pending.data.get("number", ""))
        with transaction.atomic():
            service.consume_pending(pending, now=now)
            # The call made for this enrolment, approved with #, used once; any failure rolls
            # the pending enrolment back to unused.
            use_call(PhoneCall.objects.filter(pk=call_id, pending=pending), now=now)
            return self.save_verified(pending, number, now=now, name=name)
