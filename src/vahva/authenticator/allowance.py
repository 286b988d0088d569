"""Push bombing: how many sign-in requests a person's phone may receive, and when none.

A password thief who signs in again and again hopes that a tired thumb approves one of the
requests (MFA fatigue). Three defences, all per person, whatever address the sign-ins come
from:

- **One open request** (``PUSH_MAX_OPEN``): while a request waits on the phone, a newer
  sign-in gets none; it is told that one is waiting. The waiting one stays bound to the
  browser session that started it: a newer sign-in never sees its number.
- **A few requests per window** (``PUSH_MAX_PER_WINDOW`` in any ``PUSH_WINDOW`` seconds).
- **Suspicious attempts switch to a typed code**: after ``PUSH_SUSPICIOUS_LIMIT`` sign-ins with
  the right password whose request was denied, reported or not answered, no request is sent
  for ``PUSH_PAUSE`` seconds. The sign-in asks for the app's offline code (which needs the phone
  in hand) or another method; the person and the helpdesk get a mail (after the commit).

The two limits are reserve-first: a request takes a slot of each kind (:class:`PushSlot`) with a
conditional UPDATE inside the transaction that creates it, before it is sent, so a burst of
parallel sign-ins puts at most the allowance on the phone; a refusal rolls the slots back.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Min, Q

from vahva.audit.log import record
from vahva.conf import settings

from . import alerts
from .errors import PushBusy, TooManyPushes
from .models import PushChallenge, PushPause, PushSlot
from .sending import publish

if TYPE_CHECKING:
    from vahva.accounts.models import User

State = PushChallenge.State
Kind = PushSlot.Kind
#: "Free since ever": the time a new slot (or an unused pause row) carries.
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


# --- the two limits: open requests and requests per window ---------------------------------


def _limits() -> dict[str, int]:
    return {Kind.OPEN: settings.PUSH_MAX_OPEN, Kind.SENT: settings.PUSH_MAX_PER_WINDOW}


def _take(
    user_id: Any, kind: str, *, until: dt.datetime, challenge: uuid.UUID, now: dt.datetime
) -> bool:
    """Take one free slot of ``kind``: a conditional UPDATE per slot, so of two parallel
    requests for the last free slot exactly one matches (PostgreSQL re-checks the condition
    once the other's lock is gone; SQLite runs one writer at a time)."""
    for index in range(_limits()[kind]):
        taken = PushSlot.objects.filter(
            user_id=user_id, kind=kind, index=index, free_at__lte=now
        ).update(free_at=until, challenge=challenge)
        if taken:
            return True
    return False


def _wait(user_id: Any, kind: str, *, now: dt.datetime) -> float:
    """Seconds until a slot of ``kind`` frees itself (the Retry-After of a refusal)."""
    soonest = PushSlot.objects.filter(
        user_id=user_id, kind=kind, index__lt=_limits()[kind]
    ).aggregate(at=Min("free_at"))["at"]
    return max(1.0, (soonest - now).total_seconds()) if soonest else 1.0


def reserve(
    user_id: Any, *, challenge: uuid.UUID, expires_at: dt.datetime, now: dt.datetime
) -> None:
    """Count the sign-in request ``challenge`` against the person's allowance before it is
    sent: PushBusy while another request waits, TooManyPushes when the window's requests were
    sent. Runs inside the transaction that creates the request: a refusal, or any failure
    after it, rolls the reservation back (the refund)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("reserve() must run inside the transaction that sends the request")
    # The person's slots, made on first use; a slot another request just made is left alone.
    PushSlot.objects.bulk_create(
        [
            PushSlot(user_id=user_id, kind=kind, index=index, free_at=EPOCH)
            for kind, limit in _limits().items()
            for index in range(limit)
        ],
        ignore_conflicts=True,
    )
    # Push bombing: one request waits at a time, so a newer sign-in cannot put a second one
    # beside it (or take over its number).
    if not _take(user_id, Kind.OPEN, until=expires_at, challenge=challenge, now=now):
        raise PushBusy(_wait(user_id, Kind.OPEN, now=now))
    # Push bombing: a few requests per window, however many sign-ins and addresses.
    window = dt.timedelta(seconds=settings.PUSH_WINDOW)
    if not _take(user_id, Kind.SENT, until=now + window, challenge=challenge, now=now):
        raise TooManyPushes(_wait(user_id, Kind.SENT, now=now))


def release(user_id: Any, challenges: list[uuid.UUID], *, now: dt.datetime) -> None:
    """The requests ``challenges`` were answered (or withdrawn): their open slots are free for
    the next sign-in. The sent slots stay taken for their window."""
    if challenges:
        PushSlot.objects.filter(
            user_id=user_id, kind=Kind.OPEN, challenge__in=challenges, free_at__gt=now
        ).update(free_at=now)


class Limit(StrEnum):
    """Why a sign-in's request was not sent (the audit row's ``limit``)."""

    #: Another sign-in's request was waiting on the phone.
    OPEN = "open"
    #: The window's requests were sent.
    WINDOW = "window"
    #: Requests are paused after suspicious attempts.
    PAUSED = "paused"
    #: An approve-only request within the cool-down after the person's last deny.
    COOLDOWN = "cooldown"


def _reason(limit: Limit) -> str:
    # The audit log speaks English, whatever the language of the refused page.
    if limit == Limit.OPEN:
        return "a sign-in request was already waiting on the phone"
    if limit == Limit.WINDOW:
        return (
            f"{settings.PUSH_MAX_PER_WINDOW} sign-in requests were sent within "
            f"{settings.PUSH_WINDOW} seconds"
        )
    if limit == Limit.COOLDOWN:
        return (
            "an approve-only request (no number to type) within "
            f"{settings.PUSH_APPROVE_ONLY_COOLDOWN} seconds of the person's last deny"
        )
    return "sign-in requests are paused after suspicious attempts"


def refused(user: User, *, limit: Limit, attempt: uuid.UUID, context: Mapping[str, Any]) -> None:
    """Audit a sign-in whose request was not sent, and why."""
    record(
        "push.limited",
        subject=user,
        outcome="failure",
        reason=_reason(limit),
        limit=str(limit),
        attempt=str(attempt),
        signin_ip=str(context.get("ip") or ""),
        service=str(context.get("service") or ""),
    )


# --- suspicious attempts and the pause -----------------------------------------------------


@dataclass(frozen=True)
class Pause:
    """Sign-in requests to the person's app are paused from ``since`` to ``until`` after
    ``attempts`` suspicious sign-ins."""

    since: dt.datetime
    until: dt.datetime
    attempts: int


def pause_of(user: User, *, now: dt.datetime) -> Pause | None:
    """The pause in force for ``user``, or None (read only: Security info, the helpdesk)."""
    row = PushPause.objects.filter(user=user, until__gt=now).first()
    return Pause(row.since, row.until, row.attempts) if row else None


def note_ignored(user: User, *, now: dt.datetime) -> int:
    """Mark the person's unanswered sign-in requests whose time ran out as expired, each with
    an audit row ("push.ignored"), once; returns how many."""
    stale = PushChallenge.objects.filter(
        user=user, purpose=PushChallenge.Purpose.SIGNIN, state=State.PENDING, expires_at__lte=now
    ).values_list("pk", "attempt", "context")
    noted = 0
    for pk, attempt, context in list(stale):
        # Once: of two requests noticing the same expiry, one UPDATE matches.
        if not PushChallenge.objects.filter(pk=pk, state=State.PENDING).update(state=State.EXPIRED):
            continue
        noted += 1
        publish(attempt, State.EXPIRED)
        record(
            "push.ignored",
            subject=user,
            outcome="failure",
            reason="the sign-in request was not answered in time",
            challenge=str(pk),
            attempt=str(attempt or ""),
            signin_ip=str((context or {}).get("ip") or ""),
            service=str((context or {}).get("service") or ""),
        )
    return noted


def suspicious_attempts(user: User, *, since: dt.datetime, now: dt.datetime) -> int:
    """Sign-in attempts (each a right password) since ``since`` whose request was denied,
    reported or not answered, and that no approval finished."""
    signin = PushChallenge.objects.filter(
        user=user, purpose=PushChallenge.Purpose.SIGNIN, created_at__gt=since
    )
    # An approval, or a sign-in finished another way (the app's code), was the person.
    finished = signin.filter(
        Q(state=State.APPROVED) | Q(consumed_at__isnull=False), attempt__isnull=False
    ).values("attempt")
    refused_ones = signin.filter(
        Q(state__in=(State.DENIED, State.REPORTED, State.EXPIRED))
        | Q(state=State.PENDING, expires_at__lte=now)
    )
    return refused_ones.exclude(attempt__in=finished).values("attempt").distinct().count()


def check_pause(user: User, *, now: dt.datetime) -> Pause | None:
    """The pause in force for ``user``; starts one when the suspicious attempts since the last
    pause (within PUSH_SUSPICIOUS_WINDOW) reached PUSH_SUSPICIOUS_LIMIT."""
    current = pause_of(user, now=now)
    if current is not None:
        return current
    note_ignored(user, now=now)
    since = now - dt.timedelta(seconds=settings.PUSH_SUSPICIOUS_WINDOW)
    last = PushPause.objects.filter(user=user).values_list("since", flat=True).first()
    if last is not None and last > since:
        # Attempts that started the last pause do not start the next one.
        since = last
    count = suspicious_attempts(user, since=since, now=now)
    if count < settings.PUSH_SUSPICIOUS_LIMIT:
        return None
    return _start_pause(user, attempts=count, now=now)


def _start_pause(user: User, *, attempts: int, now: dt.datetime) -> Pause:
    until = now + dt.timedelta(seconds=settings.PUSH_PAUSE)
    with transaction.atomic():
        PushPause.objects.bulk_create(
            [PushPause(user=user, since=EPOCH, until=EPOCH)], ignore_conflicts=True
        )
        # Once: two sign-ins noticing the same attempts start one pause, one mail, one row.
        started = PushPause.objects.filter(user=user, until__lte=now).update(
            since=now, until=until, attempts=attempts
        )
        if started:
            record(
                "push.paused",
                subject=user,
                outcome="failure",
                reason=(
                    f"{attempts} sign-ins with the right password whose request was denied, "
                    "reported or not answered: a typed code is asked instead"
                ),
                attempts=attempts,
                until=until.isoformat(),
            )
            # After the commit: no mail server is waited on while the write lock is held.
            transaction.on_commit(partial(alerts.pause_started, user.pk))
    row = PushPause.objects.get(user=user)
    return Pause(row.since, row.until, row.attempts)
