"""The SMS-pumping defence: every text and call is counted before it is sent.

Texts and calls cost money, and "Text me a code" is a button: SMS pumping (toll fraud)
presses it over and over for numbers whose operator shares the revenue. So texts and calls
are counted per number, person, client address and country per hour, and for the whole
deployment per day.

Reserve first: the count and the new :class:`PhoneSend` row happen in one transaction under
one lock (:class:`PhoneSendLock`; on SQLite the IMMEDIATE transaction is the lock), the same
transaction that writes the code or call and its outbox message. Fifty parallel "Text me a
code" requests are counted one after the other, so no more than the limit get through; a
send the outbox could not make is refunded (its row deleted). Hitting a limit refuses, is
audited and alerts the helpdesk (once per scope and hour), never silently.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext_lazy

from vahva.audit.log import record
from vahva.audit.models import AuditEvent
from vahva.conf import settings
from vahva.errors import RateLimited
from vahva.gateways import outbox
from vahva.gateways.models import OutboxMessage
from vahva.methods import challenges

from .models import PhoneSend, PhoneSendLock
from .numbers import mask, region_of

if TYPE_CHECKING:
    from vahva.accounts.models import User

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Send:
    """One text or call about to go out, as the limits see it."""

    number: str
    user: User
    ip: str | None
    channel: str
    #: The test text or call of a registration (not a sign-in's).
    enrolment: bool = False

    @property
    def country(self) -> str:
        return region_of(self.number)


def _limited_message(seconds: int) -> str | Promise:
    minutes = max(1, (seconds + 59) // 60)
    return ngettext_lazy(
        "Too many texts or calls were asked for. Try again in %(minutes)d minute, or use "
        "another way to sign in.",
        "Too many texts or calls were asked for. Try again in %(minutes)d minutes, or use "
        "another way to sign in.",
        "minutes",
    ) % {"minutes": minutes}


class LimitReached(RateLimited):
    """A text or call refused by a limit (audited by :func:`refusals_audited`)."""

    def __init__(self, retry_after: int, *, send: Send, scope: str, key: str, limit: int) -> None:
        super().__init__(retry_after, _limited_message(retry_after))
        self.send = send
        self.scope = scope
        self.key = key
        self.limit = limit


def lock_sends() -> None:
    """Take the send lock in the caller's transaction: every reservation queues here."""
    if not connection.in_atomic_block:
        raise RuntimeError("lock_sends() needs a transaction (the lock lasts until its end)")
    locked = PhoneSendLock.objects.select_for_update().filter(pk=1)
    if not list(locked.values_list("pk", flat=True)):
        # The first send ever (or after a test flushed the table): ON CONFLICT DO NOTHING, so
        # two first senders both end up waiting on the one row.
        PhoneSendLock.objects.bulk_create([PhoneSendLock(pk=1)], ignore_conflicts=True)
        list(locked.values_list("pk", flat=True))


def _scopes(
    send: Send, now: dt.datetime
) -> list[tuple[str, str, QuerySet[PhoneSend], int, dt.timedelta]]:
    limits = settings.PHONE_LIMITS
    recent = PhoneSend.objects.filter(at__gt=now - HOUR)
    scopes: list[tuple[str, str, QuerySet[PhoneSend], int, dt.timedelta]] = [
        ("number", send.number, recent.filter(number=send.number), limits["number"], HOUR),
        (
            "person",
            str(getattr(send.user, "pk", "")),
            # A registration's test text does not use up the person's sign-in texts (nor the
            # other way round); the number, address, country and daily limits count both.
            recent.filter(user=send.user, enrolment=send.enrolment),
            limits["person"],
            HOUR,
        ),
        ("country", send.country, recent.filter(country=send.country), limits["country"], HOUR),
        ("daily", "all", PhoneSend.objects.filter(at__gt=now - DAY), settings.PHONE_DAILY_CAP, DAY),
    ]
    if send.ip:
        scopes.insert(2, ("ip", send.ip, recent.filter(ip=send.ip), limits["ip"], HOUR))
    return scopes


def reserve(send: Send, *, now: dt.datetime, message: OutboxMessage | None = None) -> PhoneSend:
    """Count ``send`` before it is made, in the caller's transaction (which must also write
    the text or call, so that a rollback takes both): LimitReached when a limit is full."""
    # Counted under the lock: a parallel burst cannot all read "4 of 5" and all send.
    lock_sends()
    for scope, key, sends, limit, window in _scopes(send, now):
        if sends.count() < limit:
            continue
        oldest = sends.order_by("at").values_list("at", flat=True).first() or now
        retry = max(1, int((oldest + window - now).total_seconds()))
        raise LimitReached(retry, send=send, scope=scope, key=key, limit=limit)
    return PhoneSend.objects.create(
        at=now,
        user=send.user,
        number=send.number,
        country=send.country,
        ip=send.ip,
        channel=send.channel,
        enrolment=send.enrolment,
        message=message,
    )


@contextmanager
def refusals_audited(*, now: dt.datetime, request: Any = None) -> Iterator[None]:
    """Around the transaction that reserves: a refusal rolls that transaction back, and is
    audited after it (the audit row and the alert must outlive the rollback).

    ``with refusals_audited(now=now), transaction.atomic(): ... reserve(...)``
    """
    try:
        yield
    except LimitReached as refusal:
        _refused(refusal, now=now, request=request)
        raise


def reserve_audited(
    send: Send, *, now: dt.datetime, request: Any = None, message: OutboxMessage | None = None
) -> PhoneSend:
    """:func:`reserve` in a transaction of its own, audited when refused."""
    with refusals_audited(now=now, request=request), transaction.atomic():
        return reserve(send, now=now, message=message)


def _refused(refusal: LimitReached, *, now: dt.datetime, request: Any) -> None:
    send, scope, key = refusal.send, refusal.scope, refusal.key
    with transaction.atomic():
        # Under the send lock: of a burst of refusals only the first finds no alert this hour.
        lock_sends()
        alerted = AuditEvent.objects.filter(
            action="phone.limited", at__gt=now - HOUR, data__scope=scope, data__key=key
        ).exists()
        record(
            "phone.limited",
            subject=send.user,
            request=request,
            outcome="failure",
            reason=f"{scope} limit of {refusal.limit} reached",
            scope=scope,
            key=key,
            number=mask(send.number),
            channel=send.channel,
        )
        if not alerted:
            # Once per scope and hour: a pumping attack must not become a mail flood as well.
            with outbox.in_staff_language():
                subject = gettext("Phone limit reached: %(scope)s") % {"scope": scope}
                body = "\n".join(
                    [
                        gettext(
                            "The %(scope)s limit (%(limit)d) for texts and calls was reached "
                            "(%(key)s); a %(channel)s to %(number)s was refused."
                        )
                        % {
                            "scope": scope,
                            "limit": refusal.limit,
                            "key": key,
                            "channel": send.channel,
                            "number": mask(send.number),
                        },
                        gettext(
                            "If this was not expected, someone may be pumping texts or calls "
                            "through the sign-in service. The audit log has the details "
                            "(action phone.limited)."
                        ),
                    ]
                )
            alert(subject, body)


def refund(message: OutboxMessage) -> None:
    """The outbox could not make this text or call: it no longer counts against the limits."""
    PhoneSend.objects.filter(message_id=message.pk).delete()


outbox.on_undelivered(refund)


def alert(subject: str, body: str) -> None:
    """Tell the administrators and the helpdesk (the audit log has it as well), by mail
    after the caller's commit (a rolled-back transaction alerts nobody)."""
    outbox.mail_admins_after_commit(subject, body)
    if settings.HELPDESK_EMAIL:
        outbox.send_mail_after_commit(
            f"[{settings.ORGANISATION_NAME}] {subject}", body, [str(settings.HELPDESK_EMAIL)]
        )


def limit_reached(full: LimitReached, *, now: dt.datetime) -> challenges.LimitReached:
    """What the sign-in page shows for ``full``: until when, instead of a field for a code."""
    until = now + dt.timedelta(seconds=full.retry_after)
    return challenges.LimitReached(until=until, message=full.message)


def resend_wait(last: dt.datetime | None, *, now: dt.datetime) -> int:
    """Seconds until another text or call may be asked for (0: now)."""
    if last is None:
        return 0
    return max(
        0,
        int(
            (last + dt.timedelta(seconds=settings.PHONE_RESEND_AFTER) - now).total_seconds() + 0.999
        ),
    )


def too_soon(seconds: int) -> RateLimited:
    return RateLimited(
        seconds,
        ngettext_lazy(
            "You can ask for a new code or call in %(seconds)d second.",
            "You can ask for a new code or call in %(seconds)d seconds.",
            "seconds",
        )
        % {"seconds": seconds},
    )
