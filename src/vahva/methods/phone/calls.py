"""The calls of "Call me": placing one, following it through the gateway's events, and using
its approval once.

Call me: an automated call that says who is calling and asks for # to approve.

No code is ever spoken (a voicemail box must not keep one). 0# reports the call as not
expected, like "Deny and report" in the app: audited, the helpdesk alerted, and no calls to
that person for PUSH_REPORT_HOLD seconds.

The call's progress comes from the gateway as events (:func:`on_call_event`, installed as the
gateways' call handler): ringing → answered → "#" (approved) or "0#" (reported), or it ends
unanswered / hung up. Each change wakes the waiting page through the event bus, after the
commit. The approval is used once, by the sign-in attempt (or enrolment) it was made for.
"""

from __future__ import annotations

import datetime as dt
import uuid
from functools import partial
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import QuerySet
from django.utils import translation
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from vahva import bus
from vahva.audit.log import record
from vahva.conf import settings
from vahva.errors import VahvaError
from vahva.gateways import base as gateways
from vahva.gateways import outbox
from vahva.gateways.base import Answer, Call, CallEvent, CallEventKind, CallReply
from vahva.gateways.models import OutboxMessage
from vahva.methods.base import AttemptRef
from vahva.methods.models import PendingEnrolment, RegisteredMethod

from . import common as phone
from .models import PhoneCall

if TYPE_CHECKING:
    from vahva.accounts.models import User

CALLING, RINGING, ANSWERED = "calling", "ringing", "answered"
APPROVED, USED, REPORTED = "approved", "used", "reported"
HUNG_UP, NO_ANSWER = "hung_up", "no_answer"
#: The gateway could not place the call (refused, unreachable, or it waited too long).
FAILED = "failed"
LIVE = (CALLING, RINGING, ANSWERED)


class NotApproved(VahvaError):
    status = 400
    default_message = _("The call was not approved with #. Answer the call and press #.")


class CallsHeld(VahvaError):
    status = 429
    default_message = _(
        "Calls to your phone are paused because a call was reported as not expected. "
        "Sign in another way, or contact the helpdesk."
    )


def script(*, service_name: str, language: str) -> dict[str, str]:
    """What the call says, in the person's language. Never a code."""
    org = settings.ORGANISATION_NAME
    with translation.override(language):
        if service_name:
            purpose = gettext("someone is signing in to %(service)s with your account") % {
                "service": service_name
            }
        else:
            purpose = gettext("someone is signing in with your account")
        say = gettext(
            "Hello, this is %(org)s. %(purpose)s. If this is you, press the hash key. If "
            "it is not you, press zero and then the hash key, and we will tell the helpdesk."
        ) % {"org": org, "purpose": purpose[:1].upper() + purpose[1:]}
        return {
            "say": f"{say} {say}",
            "approved": gettext("Thank you. You can hang up now."),
            "reported": gettext(
                "Thank you. We have told the helpdesk, and nobody was signed in. Goodbye."
            ),
            "again": gettext("Press the hash key to approve, or zero and hash to report.")
            + " "
            + say,
            "goodbye": gettext("Goodbye."),
            "silence": gettext("We did not hear a key. Nobody was signed in. Goodbye."),
        }


def place_call(
    user: User,
    number: str,
    *,
    now: dt.datetime,
    pending: PendingEnrolment | None = None,
    registered: RegisteredMethod | None = None,
    attempt: AttemptRef | None = None,
    service_name: str = "",
) -> PhoneCall:
    """Ring ``number`` for this enrolment or attempt: the call is written in the caller's
    transaction and placed by the outbox after the commit (so the row is there before the
    provider's first status callback; a rollback rings nobody)."""
    language = phone.language_of(user)
    words = script(service_name=service_name, language=language)
    call = PhoneCall(
        user=user,
        number=number,
        pending=pending,
        registered=registered,
        attempt=attempt.id if attempt else "",
        ip=attempt.ip if attempt else None,
        service=service_name[:200],
        language=language,
        created_at=now,
        expires_at=now + dt.timedelta(seconds=settings.PHONE_CALL_TTL),
    )
    with transaction.atomic():
        call.message = outbox.enqueue_call(
            Call(
                number=number,
                call_id=str(call.pk),
                say=words["say"],
                language=language,
                silence=words["silence"],
            ),
            now=now,
            # A call placed after its time would ring for a sign-in that no longer waits.
            expires_at=call.expires_at,
        )
        call.save(force_insert=True)
    return call


def _undelivered(placed: OutboxMessage) -> None:
    """The call could not be placed: the waiting page says so (no ringing forever)."""
    with transaction.atomic():
        for call in PhoneCall.objects.select_for_update().filter(
            message_id=placed.pk, state=CALLING
        ):
            _move(call, FAILED)


outbox.on_undelivered(_undelivered)


def _key(call: PhoneCall) -> str:
    return call.attempt or str(call.pending_id or "")


def _publish(call: PhoneCall, outcome: str) -> None:
    key = _key(call)
    if key:
        # After the commit: a woken page must find the new state in the database.
        transaction.on_commit(partial(bus.get().publish, key, outcome))


def _move(call: PhoneCall, state: str) -> None:
    call.state = state
    call.save(update_fields=["state"])
    _publish(call, state)


def on_call_event(event: CallEvent) -> Answer:
    """The gateways' call handler: what an event on one of our calls means."""
    try:
        pk = uuid.UUID(event.call_id)
    except ValueError:
        return Answer(CallReply.UNKNOWN)
    from vahva import clock

    now = clock.now()
    with transaction.atomic():
        call = PhoneCall.objects.select_for_update().filter(pk=pk).select_related("user").first()
        if call is None:
            # Not a sign-in call: perhaps the helpdesk's call with a code.
            from . import caller

            return caller.on_call_event(event, now=now)
        # The webhook request has no language of the person's: keep the one the call began in.
        language = call.language or phone.language_of(call.user)
        words = script(service_name=call.service, language=language)
        live = call.state in LIVE and call.expires_at > now
        if event.kind == CallEventKind.RINGING:
            if call.state == CALLING:
                _move(call, RINGING)
            return Answer(CallReply.CONTINUE)
        if event.kind == CallEventKind.ANSWERED:
            if call.state in (CALLING, RINGING):
                _move(call, ANSWERED)
            return Answer(CallReply.CONTINUE)
        if event.kind == CallEventKind.ENDED:
            if call.state in (CALLING, RINGING):
                _move(call, NO_ANSWER)
            elif call.state == ANSWERED:
                _move(call, HUNG_UP)
            return Answer(CallReply.CONTINUE)
        # Keys.
        if not live:
            return Answer(CallReply.GOODBYE, words["goodbye"], language)
        keys = event.keys.strip()
        if keys.startswith("#"):
            _move(call, APPROVED)
            record("phone.approved", subject=call.user, reason="# pressed", call=str(call.pk))
            return Answer(CallReply.APPROVED, words["approved"], language)
        if keys.startswith("0"):
            _move(call, REPORTED)
            _report(call)
            return Answer(CallReply.REPORTED, words["reported"], language)
        return Answer(CallReply.AGAIN, words["again"], language)


def _report(call: PhoneCall) -> None:
    user = call.user
    record(
        "phone.reported",
        subject=user,
        outcome="failure",
        reason="0# pressed: the call was not expected",
        call=str(call.pk),
        number=phone.mask(call.number),
        signin_ip=call.ip,
        service=call.service,
    )
    hold = settings.PUSH_REPORT_HOLD // 60
    with outbox.in_staff_language():
        body = "\n".join(
            [
                gettext("%(email)s pressed 0# on a sign-in call: they did not expect it.")
                % {"email": user.email},
                gettext("Phone: %(number)s") % {"number": phone.mask(call.number)},
                gettext("Address of the sign-in: %(address)s")
                % {"address": call.ip or gettext("unknown")},
                gettext("Service: %(service)s") % {"service": call.service or "-"},
                "",
                gettext(
                    "Their password is probably known to someone else: contact them and have it "
                    "changed."
                ),
                ngettext(
                    "Calls to them are held for %(minutes)d minute.",
                    "Calls to them are held for %(minutes)d minutes.",
                    hold,
                )
                % {"minutes": hold},
            ]
        )
        subject = gettext("Reported sign-in call: %(email)s") % {"email": user.email}
    # Mailed after the commit by the outbox: a rolled-back report alerts nobody.
    phone.alert(subject, body)


gateways.set_call_handler(on_call_event)


def calls_held_until(user: User, *, now: dt.datetime) -> dt.datetime | None:
    since = now - dt.timedelta(seconds=settings.PUSH_REPORT_HOLD)
    last = (
        PhoneCall.objects.filter(user=user, state=REPORTED, created_at__gt=since)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return last + dt.timedelta(seconds=settings.PUSH_REPORT_HOLD) if last else None


def page_state(call: PhoneCall | None, *, now: dt.datetime) -> str:
    """The waiting page's state for a call."""
    if call is None:
        return "none"
    if call.state in LIVE and call.expires_at <= now:
        return "expired"
    return {
        CALLING: "calling",
        RINGING: "calling",
        ANSWERED: "answered",
        APPROVED: "approved",
        USED: "approved",
        REPORTED: "reported",
        HUNG_UP: "hung_up",
        NO_ANSWER: "no_answer",
        FAILED: "failed",
    }.get(call.state, "expired")


#: What the sign-in page (whose machinery knows pending / approved / denied / expired) shows.
SIGNIN_STATES = {
    "calling": "pending",
    "answered": "pending",
    "approved": "approved",
    "reported": "denied",
    "hung_up": "expired",
    "no_answer": "expired",
    "failed": "expired",
    "expired": "expired",
    "none": "expired",
}


ENDED = _("We didn't hear from you in time.")
#: The enrolment page's states (calling, answered, approved, denied, expired) and messages.
ENROLMENT_STATES = {
    "none": ("calling", ""),
    "calling": ("calling", ""),
    "answered": ("answered", ""),
    "approved": ("approved", ""),
    "reported": ("denied", _("The call was reported as not expected (0#).")),
    "hung_up": ("expired", _("The call ended before # was pressed.")),
    "no_answer": ("expired", _("The call was not answered.")),
    "failed": ("expired", _("We could not call your phone. Try again in a moment.")),
    "expired": ("expired", ENDED),
}


def use_call(call_filter: QuerySet[PhoneCall], *, now: dt.datetime) -> PhoneCall:
    """Take the approved call once (conditional UPDATE: a double submit gets nothing)."""
    call = call_filter.filter(state=APPROVED).order_by("-created_at").first()
    if call is None:
        raise NotApproved()
    taken = PhoneCall.objects.filter(pk=call.pk, state=APPROVED).update(state=USED)
    if not taken:
        raise NotApproved()
    return call
