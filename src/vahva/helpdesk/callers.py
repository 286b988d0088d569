"""Verifying a caller without the vahva app (issue #19 item 9).

A caller who lost their phone has no app to approve a check in. The person page offers
whatever else the person has, as the methods describe it (:meth:`Method.caller_checks`): a
code texted or called to a registered number, a code read out from an authenticator app or a
hardware token, a recovery code read out (used up, and the person is told); and the
organisation's own procedure as guidance, with an "I verified them this way" confirmation.

Guessing is bounded twice, both reserve-first: a person gets HELPDESK_CALLER_CHECKS checks per
HELPDESK_CALLER_WINDOW seconds that were not passed (counted under a lock of their row, in
the transaction that creates the check), and each check HELPDESK_CALLER_TRIES codes (a
conditional UPDATE counts the try before the code is looked at). A code is checked only for
the check it was sent for. Every outcome is an audit row "helpdesk.caller_check" with the
agent's ticket, in words by :mod:`vahva.audit.sentences`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from vahva.accounts.models import User
from vahva.audit import sentences
from vahva.audit.log import record
from vahva.audit.models import AuditEvent
from vahva.audit.tickets import clean_ticket
from vahva.conf import settings
from vahva.errors import (
    AlreadyCompleted,
    ExpiredChallenge,
    MalformedInput,
    RateLimited,
    VahvaError,
)
from vahva.gateways import outbox
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.base import CallerCheck as Offer
from vahva.methods.base import Method
from vahva.methods.models import RegisteredMethod

from .access import check_may_act
from .errors import UnknownItem
from .models import CallerCheck

State = CallerCheck.State
#: The audit action of every caller check's outcome (the app's checks write it too).
ACTION = "helpdesk.caller_check"
#: Seconds the agent has to get the code read back.
CHECK_TTL = 600
#: The audit reason of a confirmation by the organisation's procedure.
PROCEDURE_REASON = "caller verified by the organisation's procedure"

DEFAULT_PROCEDURE = _(
    "Ask for something only the person and the organisation know, such as their employee or "
    "student number and date of birth; then end the call and call back on the number in the "
    "organisation's records, not on a number the caller gives you."
)
CHOOSE = _("Choose one of the ways listed to verify the caller.")
TOO_MANY_CHECKS = _(
    "Too many checks were started for this person. Try again later, or verify them by the "
    "organisation's procedure."
)
TOO_MANY_TRIES = _("Too many wrong codes for this check. Start a new check.")
EXPIRED = _("This check has expired. Start a new check.")


@dataclass(frozen=True)
class Way:
    """A way offered on the person page: the form's value and what the method says of it."""

    value: str
    offer: Offer


def procedure_text() -> str:
    """The organisation's procedure for a caller with none of their methods at hand."""
    return str(settings.HELPDESK_CALLER_PROCEDURE or DEFAULT_PROCEDURE)


def ways(user: User, *, now: dt.datetime) -> list[Way]:
    """Every way the installed methods offer to verify ``user`` as a caller."""
    return [
        Way(f"{method.kind}:{offer.registered}", offer)
        for method in registry.all_methods()
        for offer in method.caller_checks(user, now=now)
    ]


def _resolve(user: User, way: str, *, now: dt.datetime) -> tuple[Method, RegisteredMethod, Offer]:
    kind, _colon, pk = str(way).partition(":")
    try:
        method = registry.get(kind)
    except KeyError:
        raise MalformedInput(CHOOSE) from None
    # Only a way the method offers for this person now (another person's method id, or one
    # removed meanwhile, is refused before anything is sent).
    offer = next((o for o in method.caller_checks(user, now=now) if str(o.registered) == pk), None)
    if offer is None:
        raise MalformedInput(CHOOSE)
    return method, methods.get_for(user, offer.registered), offer


def _reserve_check(user: User, *, now: dt.datetime) -> float:
    """In the caller's transaction: lock the person's row and count their recent checks;
    0 when one more may start, else the seconds until one may."""
    # Reserve first: parallel starts queue on the person's row, so a burst cannot all read
    # "4 of 5" and all start (an agent, or a social engineer, guessing check after check).
    User.objects.select_for_update().filter(pk=user.pk).first()
    since = now - dt.timedelta(seconds=settings.HELPDESK_CALLER_WINDOW)
    recent = list(
        CallerCheck.objects.filter(user=user, created_at__gt=since)
        # Refunded on success: a check the caller passed does not count against the next.
        .exclude(state=State.VERIFIED)
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )
    if len(recent) < settings.HELPDESK_CALLER_CHECKS:
        return 0
    return max(1.0, (recent[0] - since).total_seconds())


def start(
    user: User, way: str, *, ticket: str, now: dt.datetime, actor: Any, request: Any
) -> tuple[CallerCheck, str]:
    """Start a check of ``way`` for a ticket: the check, and what was done ("A code was
    texted to …"; "" when the caller reads a code out from something they hold)."""
    check_may_act(actor, user)
    ticket = clean_ticket(ticket)
    method, registered, offer = _resolve(user, way, now=now)
    with transaction.atomic():
        wait = _reserve_check(user, now=now)
        row = None
        if not wait:
            row = CallerCheck.objects.create(
                user=user,
                agent=actor,
                ticket=ticket,
                kind=method.kind,
                registered=registered.pk,
                label=offer.label[:200],
                created_at=now,
                expires_at=now + dt.timedelta(seconds=CHECK_TTL),
            )
    if row is None:
        _audit_failure(user, actor, request, ticket, method.kind, "", "too many caller checks")
        raise RateLimited(wait, TOO_MANY_CHECKS)
    done = ""
    if offer.sends:
        # Outside any transaction: the text or call leaves through the outbox at its commit.
        try:
            done = method.send_caller_code(registered, check=str(row.pk), now=now)
        except VahvaError as exc:
            CallerCheck.objects.filter(pk=row.pk).update(state=State.FAILED)
            _audit_failure(user, actor, request, ticket, method.kind, str(row.pk), _why(exc))
            raise
    record(
        "helpdesk.check_sent",
        subject=user,
        actor=actor,
        request=request,
        ticket=ticket,
        challenge=str(row.pk),
        method=method.kind,
    )
    return row, done


def check_of(user: User, check_id: object) -> CallerCheck:
    """``user``'s check with this id; UnknownItem for anything else (another person's)."""
    try:
        pk = uuid.UUID(str(check_id))
    except ValueError:
        raise UnknownItem() from None
    found = CallerCheck.objects.filter(pk=pk, user=user).first()
    if found is None:
        raise UnknownItem()
    return found


def _why(exc: VahvaError) -> str:
    # The error's name: the sentences table says it in words ("The code was wrong.").
    return type(exc).__name__


def _audit_failure(
    user: User, actor: Any, request: Any, ticket: str, kind: str, check: str, reason: str
) -> None:
    record(
        ACTION,
        subject=user,
        actor=actor,
        request=request,
        outcome="failure",
        reason=reason,
        ticket=ticket,
        method=kind,
        check=check,
    )


def _refused(row: CallerCheck, *, now: dt.datetime) -> VahvaError:
    """Why no more codes are looked at for ``row``."""
    if row.state == State.VERIFIED:
        return AlreadyCompleted(gettext("The caller was verified already."))
    if row.state == State.FAILED or row.tries >= settings.HELPDESK_CALLER_TRIES:
        return RateLimited(0, TOO_MANY_TRIES)
    return ExpiredChallenge(EXPIRED)


def verify(
    user: User, check_id: object, code: str, *, now: dt.datetime, actor: Any, request: Any
) -> CallerCheck:
    """Check the code the caller read out for the check ``check_id``; the check, verified.
    Raises the method's refusal (InvalidCode...) or why no code is looked at any more."""
    check_may_act(actor, user)
    row = check_of(user, check_id)
    # Reserve first: the try is counted before the code is looked at, so parallel guesses
    # get no more than HELPDESK_CALLER_TRIES looks between them.
    taken = CallerCheck.objects.filter(
        pk=row.pk,
        state=State.PENDING,
        expires_at__gt=now,
        tries__lt=settings.HELPDESK_CALLER_TRIES,
    ).update(tries=F("tries") + 1)
    if not taken:
        row.refresh_from_db()
        refusal = _refused(row, now=now)
        _audit_failure(user, actor, request, row.ticket, row.kind, str(row.pk), _why(refusal))
        raise refusal
    try:
        method = registry.get(row.kind)
        registered = methods.get_for(user, row.registered)
        proof = method.check_caller(registered, code, check=str(row.pk), now=now)
    except (KeyError, VahvaError) as exc:
        refusal = exc if isinstance(exc, VahvaError) else UnknownItem()
        if type(refusal) is MalformedInput:
            # A typing slip ("12345") is not a guess: the try is given back.
            CallerCheck.objects.filter(pk=row.pk, tries__gt=0).update(tries=F("tries") - 1)
            raise refusal from None
        used_up = CallerCheck.objects.filter(
            pk=row.pk, state=State.PENDING, tries__gte=settings.HELPDESK_CALLER_TRIES
        ).update(state=State.FAILED)
        _audit_failure(user, actor, request, row.ticket, row.kind, str(row.pk), _why(refusal))
        if used_up:
            raise RateLimited(0, TOO_MANY_TRIES) from None
        raise refusal from None
    CallerCheck.objects.filter(pk=row.pk, state=State.PENDING).update(
        state=State.VERIFIED, verified_at=now, said=proof.said[:300]
    )
    record(
        ACTION,
        subject=user,
        actor=actor,
        request=request,
        reason=f"caller verified: {proof.reason}",
        ticket=row.ticket,
        method=row.kind,
        check=str(row.pk),
    )
    told = method.caller_check_used(registered)
    if told and user.email:
        # The person hears that something of theirs was used up, as with every change made
        # for them (and learns of it at once if it was not them on the phone).
        outbox.send_mail_after_commit(
            gettext("You were verified by the helpdesk (%(org)s)")
            % {"org": settings.ORGANISATION_NAME},
            "\n\n".join(
                [
                    told,
                    gettext("Ticket: %(ticket)s.") % {"ticket": row.ticket},
                    gettext("If you did not call the helpdesk, contact them now: %(contact)s")
                    % {"contact": settings.HELPDESK_EMAIL or settings.HELPDESK_PHONE or "-"},
                ]
            ),
            [user.email],
            now=now,
        )
    row.refresh_from_db()
    return row


def confirm_procedure(
    user: User, *, ticket: str, now: dt.datetime, actor: Any, request: Any
) -> None:
    """The agent verified the caller by the organisation's own procedure: audited with the
    ticket (the agent answers for it; vahva checked nothing)."""
    check_may_act(actor, user)
    record(
        ACTION,
        subject=user,
        actor=actor,
        request=request,
        reason=PROCEDURE_REASON,
        ticket=clean_ticket(ticket),
        method="",
    )


@dataclass(frozen=True)
class Outcome:
    """A caller check on the person page: when, what came of it in words, for which ticket."""

    at: dt.datetime
    verified: bool
    label: str
    why: str
    ticket: str
    agent: str


def outcomes(user: User, *, limit: int = 10) -> list[Outcome]:
    """The person's latest caller checks (the app's too), newest first."""
    events = AuditEvent.objects.filter(subject_id=user.pk, action=ACTION).select_related("actor")
    rows = []
    for event in events.order_by("-at", "-id")[:limit]:
        data = event.data if isinstance(event.data, dict) else {}
        words = sentences.describe(
            action=event.action, outcome=event.outcome, reason=event.reason, data=data
        )
        actor = event.actor
        agent = actor.get_full_name() if actor is not None and actor.pk != user.pk else ""
        rows.append(
            Outcome(
                at=event.at,
                verified=event.outcome == "ok",
                label=words.label,
                why=words.why,
                ticket=str(data.get("ticket") or ""),
                agent=agent,
            )
        )
    return rows
