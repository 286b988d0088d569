"""The outbox: texts, calls and mail leave only after the transaction that asked for them
has committed, and never while one is open.

A gateway's HTTP call inside a transaction would hold the database's write lock (all of
SQLite, or a row lock on PostgreSQL) for as long as the provider takes to answer, and a
rollback after the call would leave a text or call nobody recorded. So:

1. :func:`enqueue_sms`, :func:`enqueue_call` and :func:`send_mail_after_commit` write an
   :class:`OutboxMessage` in the caller's transaction (what, to whom, through which gateway)
   and ask for :func:`deliver` on commit. A rolled-back transaction takes the row and the
   delivery with it: nothing is sent.
2. :func:`deliver` runs with no transaction open. It claims the row with a conditional
   UPDATE (pending → sending: of two processes only one sends), calls the gateway, and
   retires the row: ``sent`` with the provider's id, or ``failed`` with the provider's
   words. Either way the payload (a text holds a code) is wiped.
3. When a text or call was not made (failed, or expired while waiting), the handlers
   installed with :func:`on_undelivered` hear of it: the methods room gives the send back to
   the SMS-pumping limits and retires the code or the call. The request that asked for it
   learns the outcome from :func:`raise_if_failed` and shows the person a clear message.
4. A process that stops between the commit and the delivery leaves the row ``pending``:
   ``vahva outbox`` (run every minute from cron or a timer) delivers it while it is still
   worth sending and expires it after. A row left ``sending`` (stopped while the provider
   was asked) is marked failed and never sent again: it may have gone, and a second text or
   call is worse than none. Retired rows are deleted after :data:`KEEP_RETIRED`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from email.utils import make_msgid
from functools import partial
from typing import Any

from django.conf import settings as django_settings
from django.core import mail
from django.core.mail.utils import DNS_NAME
from django.db import transaction
from django.db.models import F
from django.utils import translation

from vahva import clock
from vahva.conf import settings

from .base import Call, GatewayError, gateway_for
from .models import OutboxMessage

log = logging.getLogger(__name__)

Channel = OutboxMessage.Channel
State = OutboxMessage.State

#: How long an alert mail may wait for a stopped process to come back before it is dropped.
MAIL_TTL = dt.timedelta(days=1)
#: A row claimed this long ago whose process never answered: stopped mid-send.
STALE_SENDING = dt.timedelta(minutes=5)
#: Retired rows (payload already wiped) kept this long for the helpdesk, then deleted.
KEEP_RETIRED = dt.timedelta(days=30)
#: ``vahva outbox`` leaves younger rows to the request that wrote them.
SWEEP_MIN_AGE = dt.timedelta(seconds=10)

Undelivered = Callable[[OutboxMessage], None]
_undelivered: list[Undelivered] = []


def on_undelivered(handler: Undelivered) -> None:
    """Call ``handler(message)`` when a text or call was not made (failed or expired)."""
    if handler not in _undelivered:
        _undelivered.append(handler)


# --- writing (in the caller's transaction) ---------------------------------------------------


def _enqueue(
    channel: Channel,
    *,
    gateway: str,
    recipient: str,
    payload: dict[str, Any],
    now: dt.datetime,
    expires_at: dt.datetime,
) -> OutboxMessage:
    message = OutboxMessage.objects.create(
        channel=channel,
        gateway=gateway,
        recipient=recipient[:254],
        payload=json.dumps(payload),
        created_at=now,
        expires_at=expires_at,
    )
    # robust: a failing delivery must not stop the other after-commit work (bus wake-ups).
    transaction.on_commit(partial(deliver, message.pk), robust=True)
    return message


def enqueue_sms(
    number: str, text: str, *, now: dt.datetime, expires_at: dt.datetime
) -> OutboxMessage:
    """Text ``text`` to ``number`` after the commit (not after ``expires_at``)."""
    return _enqueue(
        Channel.SMS,
        gateway=str(settings.PHONE_GATEWAY),
        recipient=number,
        payload={"text": text},
        now=now,
        expires_at=expires_at,
    )


def enqueue_call(call: Call, *, now: dt.datetime, expires_at: dt.datetime) -> OutboxMessage:
    """Place ``call`` after the commit: its row (``call.call_id``) is committed before the
    provider can send a status callback about it."""
    return _enqueue(
        Channel.CALL,
        gateway=str(settings.PHONE_GATEWAY),
        recipient=call.number,
        payload=asdict(call),
        now=now,
        expires_at=expires_at,
    )


def send_mail_after_commit(
    subject: str,
    body: str,
    to: Sequence[str],
    *,
    from_email: str | None = None,
    now: dt.datetime | None = None,
) -> OutboxMessage | None:
    """``django.core.mail.send_mail`` for code inside a transaction: the mail is written to
    the outbox and sent after the commit (never if the transaction rolls back). Without
    recipients, nothing."""
    recipients = [str(a) for a in to if a]
    if not recipients:
        return None
    now = now or clock.now()
    return _enqueue(
        Channel.MAIL,
        gateway=str(django_settings.EMAIL_BACKEND),
        recipient=", ".join(recipients),
        payload={
            "subject": str(subject),
            "body": str(body),
            "from": from_email or str(django_settings.DEFAULT_FROM_EMAIL),
            "to": recipients,
        },
        now=now,
        expires_at=now + MAIL_TTL,
    )


def in_language_of(person: Any) -> AbstractContextManager[None]:
    """Write to a person in the language they chose on vahva's pages, else the deployment's
    (``LANGUAGE_CODE``), never the current request's: the request that set a message off (a
    sign-in with a stolen password, say) may be an attacker's."""
    language = str(getattr(person, "language", "") or "") or str(django_settings.LANGUAGE_CODE)
    return translation.override(language)


def in_staff_language() -> AbstractContextManager[None]:
    """Write mail for the administrators and the helpdesk's shared address in the deployment's
    language (``LANGUAGE_CODE``): those addresses are no one person's, and the request that
    set an alert off (an attacker's, perhaps) must not choose the language staff read it in."""
    return translation.override(django_settings.LANGUAGE_CODE)


def mail_admins_after_commit(subject: str, body: str) -> OutboxMessage | None:
    """``django.core.mail.mail_admins`` (ADMINS, SERVER_EMAIL, EMAIL_SUBJECT_PREFIX), after
    the commit."""
    admins = [a if isinstance(a, str) else a[1] for a in django_settings.ADMINS]
    return send_mail_after_commit(
        f"{django_settings.EMAIL_SUBJECT_PREFIX}{subject}",
        body,
        admins,
        from_email=str(django_settings.SERVER_EMAIL),
    )


# --- delivering (no transaction open) --------------------------------------------------------


def _send(message: OutboxMessage) -> str:
    """Hand ``message`` to its gateway; returns the provider's id."""
    payload = json.loads(message.payload)
    if message.channel == Channel.SMS:
        return gateway_for(message.gateway).send_sms(message.recipient, str(payload["text"]))
    if message.channel == Channel.CALL:
        return gateway_for(message.gateway).start_call(Call(**payload))
    msgid = make_msgid(domain=DNS_NAME)
    sent = mail.EmailMessage(
        subject=payload["subject"],
        body=payload["body"],
        from_email=payload["from"],
        to=payload["to"],
        headers={"Message-ID": msgid},
        connection=mail.get_connection(message.gateway),
    ).send()
    if not sent:
        raise GatewayError(detail="the mail backend sent nothing")
    return msgid


def _retire(message_id: int, state: State, **fields: Any) -> bool:
    return bool(
        OutboxMessage.objects.filter(pk=message_id, state=State.SENDING).update(
            state=state, payload="", done_at=clock.now(), **fields
        )
    )


def _tell_undelivered(message: OutboxMessage) -> None:
    if message.channel == Channel.MAIL:
        return
    for handler in _undelivered:
        try:
            handler(message)
        except Exception:
            log.exception("undelivered handler %r failed for outbox %s", handler, message.pk)


def deliver(message_id: int, *, now: dt.datetime | None = None) -> str:
    """Send one outbox message, once; returns its state afterwards.

    Called after the commit (``transaction.on_commit``) or by :func:`sweep`; the gateway is
    never called with a transaction open by this module.
    """
    now = now or clock.now()
    # Claim first (conditional UPDATE): of two processes delivering the same row, one sends.
    claimed = OutboxMessage.objects.filter(
        pk=message_id, state=State.PENDING, expires_at__gt=now
    ).update(state=State.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        _expire(message_id, now=now)
        return str(
            OutboxMessage.objects.filter(pk=message_id).values_list("state", flat=True).first()
            or ""
        )
    message = OutboxMessage.objects.get(pk=message_id)
    try:
        provider_id = _send(message)
    except Exception as exc:
        detail = exc.detail if isinstance(exc, GatewayError) else f"{type(exc).__name__}: {exc}"
        log.warning(
            "outbox %s (%s to %s) failed: %s",
            message.pk,
            message.channel,
            message.recipient,
            detail,
        )
        if _retire(message.pk, State.FAILED, error=(detail or str(exc))[:2000]):
            _tell_undelivered(message)
        return State.FAILED
    _retire(message.pk, State.SENT, provider_id=str(provider_id)[:100])
    return State.SENT


def _expire(message_id: int, *, now: dt.datetime) -> bool:
    expired = OutboxMessage.objects.filter(
        pk=message_id, state=State.PENDING, expires_at__lte=now
    ).update(state=State.EXPIRED, payload="", done_at=now)
    if expired:
        message = OutboxMessage.objects.get(pk=message_id)
        log.warning(
            "outbox %s (%s to %s) expired unsent", message.pk, message.channel, message.recipient
        )
        _tell_undelivered(message)
    return bool(expired)


def raise_if_failed(message: OutboxMessage | int | None) -> None:
    """After the caller's commit: GatewayError if its message was refused, so the person
    hears of it at once. Still pending (the caller's transaction is nested in another): the
    outcome comes later, and the page shows it."""
    if message is None:
        return
    pk = message.pk if isinstance(message, OutboxMessage) else message
    row = OutboxMessage.objects.filter(pk=pk).values_list("state", "error").first()
    if row is not None and row[0] == State.FAILED:
        raise GatewayError(detail=row[1])


@dataclass(frozen=True)
class Swept:
    sent: int = 0
    failed: int = 0
    expired: int = 0
    interrupted: int = 0
    deleted: int = 0


def sweep(*, now: dt.datetime, min_age: dt.timedelta = SWEEP_MIN_AGE) -> Swept:
    """What ``vahva outbox`` does: deliver rows a stopped process left pending (older than
    ``min_age``), expire those past their time, fail rows stuck in ``sending``, and delete
    retired rows older than KEEP_RETIRED."""
    waiting = OutboxMessage.objects.filter(state=State.PENDING, created_at__lte=now - min_age)
    expired = sum(
        _expire(pk, now=now)
        for pk in waiting.filter(expires_at__lte=now).values_list("pk", flat=True)
    )
    outcomes = [
        deliver(pk, now=now)
        for pk in waiting.filter(expires_at__gt=now)
        .order_by("created_at")
        .values_list("pk", flat=True)
    ]
    # Not retried: the provider may have taken it before the process stopped.
    interrupted = OutboxMessage.objects.filter(
        state=State.SENDING, claimed_at__lte=now - STALE_SENDING
    ).update(
        state=State.FAILED,
        payload="",
        done_at=now,
        error="the sending process stopped before the provider answered; not sent again",
    )
    deleted, _ = OutboxMessage.objects.filter(
        state__in=(State.SENT, State.FAILED, State.EXPIRED), done_at__lte=now - KEEP_RETIRED
    ).delete()
    return Swept(
        sent=outcomes.count(State.SENT),
        failed=outcomes.count(State.FAILED),
        expired=expired,
        interrupted=interrupted,
        deleted=deleted,
    )
