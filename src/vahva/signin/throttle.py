"""Throttling of failed sign-in steps, shared by all nodes through the database.

A key (``pw:ip:…``, ``mfa:acct:…``) gets ``free`` failures, then must wait ``base`` seconds,
doubling with each further failure up to ``cap``; at ``limit`` failures it is locked, and
failures older than ``forget`` seconds (after the last one) no longer count.

Every try is **reserved before it is checked** (DESIGN §7): :func:`reserve` takes the keys'
rows under a lock, refuses (Locked, RateLimited) when their counted state allows no further
try, and otherwise counts one failure on every key, in one transaction. Only then does the
caller check the guess: a wrong one stays counted, a right one (or input that was not a guess)
gives the try back with :meth:`Reservation.refund`. So N parallel wrong guesses are counted
one after the other and see each other's failures: no more of them reach the verifier than
the rule allows, and the count stops at exactly ``limit``.

The account key for passwords is replaced by a per-browser key when the browser has signed in
to that account before (OWASP "device cookies"), so an attacker hammering the account from
elsewhere slows down only browsers the account has never used: the person cannot be locked
out for good by someone who does not know the password.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connections, models, transaction
from django.db.models import F, Q
from django.db.models.sql import DeleteQuery
from django.utils.crypto import salted_hmac

from vahva.errors import Locked, RateLimited

#: Times a reservation is taken again when a parallel request created one of its rows first.
_RETRIES = 5


@dataclass(frozen=True)
class Rule:
    free: int
    base: float
    cap: float
    limit: int | None
    forget: int | None

    @classmethod
    def from_setting(cls, value: Mapping[str, Any]) -> Rule:
        return cls(**value)


def effective_failures(
    rule: Rule, failures: int, last: dt.datetime | None, now: dt.datetime
) -> int:
    """Failures that still count: none once ``forget`` seconds have passed since the last."""
    if last is None:
        return 0
    if rule.forget is not None and (now - last).total_seconds() >= rule.forget:
        return 0
    return failures


def wait_seconds(rule: Rule, failures: int, last: dt.datetime | None, now: dt.datetime) -> float:
    """Seconds until the next try is allowed (0 = now). Pure; the table tests use it."""
    failures = effective_failures(rule, failures, last, now)
    if failures < rule.free or last is None:
        return 0.0
    # The exponent is bounded so that 2**n never overflows however long an attack runs.
    delay = min(rule.base * 2.0 ** min(failures - rule.free, 32), rule.cap)
    return max(0.0, delay - (now - last).total_seconds())


def is_locked(rule: Rule, failures: int, last: dt.datetime | None, now: dt.datetime) -> bool:
    return rule.limit is not None and effective_failures(rule, failures, last, now) >= rule.limit


class Throttle(models.Model):
    key = models.CharField(max_length=200, primary_key=True)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True)

    class Meta:
        app_label = "signin"

    def __str__(self) -> str:
        return f"{self.key}: {self.failures}"


Keys = Iterable[tuple[str, Rule]]


@dataclass(frozen=True)
class Counted:
    """One key's share of a reservation: its row before, and the failures after."""

    key: str
    rule: Rule
    #: (failures, last failure) before the try, or None when the key had no row.
    before: tuple[int, dt.datetime | None] | None
    failures: int
    at: dt.datetime


@dataclass(frozen=True)
class Reservation:
    """A try counted as a failure on every key before the guess is checked."""

    counted: tuple[Counted, ...]

    def failures(self, key: str) -> int:
        """The failures on ``key`` with this try counted (the try that reached ``limit`` sees
        exactly ``limit``: the one to report the lock)."""
        return next(c.failures for c in self.counted if c.key == key)

    def refund(self, *, clear: Iterable[str] = ()) -> None:
        """Give this try back (the guess was right, or was no guess at all); the keys in
        ``clear`` forget all their failures (a success on the account ends its back-off)."""
        cleared = set(clear)
        # The usual success (the account's key cleared, the rows this try created removed)
        # is one DELETE, which says which rows it removed.
        gone = Q(key__in=sorted(cleared)) if cleared else Q()
        for c in self.counted:
            if c.key not in cleared and c.before is None:
                gone |= Q(key=c.key, failures=c.failures, last_failure_at=c.at)
        removed = _delete_returning_keys(gone) if gone else set()
        for c in self.counted:
            if c.key in cleared:
                continue
            if c.before is None:
                restored = c.key in removed
            else:
                restored = bool(
                    Throttle.objects.filter(
                        key=c.key, failures=c.failures, last_failure_at=c.at
                    ).update(failures=c.before[0], last_failure_at=c.before[1])
                )
            if not restored:
                # Other tries were counted on the key meanwhile: take back only this one.
                Throttle.objects.filter(key=c.key, failures__gt=0).update(
                    failures=F("failures") - 1
                )


def _keyed(keys: Keys) -> dict[str, Rule]:
    # Sorted: parallel reservations lock the rows in one order, so they cannot deadlock.
    return dict(sorted(dict(keys).items()))


def _count(rules: dict[str, Rule], *, now: dt.datetime, refuse: bool) -> Reservation:
    """In one transaction: lock the keys' rows, refuse if ``refuse`` and they allow no try,
    count one failure on each."""
    for _attempt in range(_RETRIES):
        try:
            with transaction.atomic():
                return _count_locked(rules, now=now, refuse=refuse)
        except IntegrityError:
            # A parallel request created one of the rows first: take them again, now locked.
            continue
    raise RateLimited(1)


def _count_locked(rules: dict[str, Rule], *, now: dt.datetime, refuse: bool) -> Reservation:
    # The lock is the point: a parallel try waits here until this one is counted (PostgreSQL
    # row locks; SQLite's IMMEDIATE transactions serialise writers the same way).
    rows = {
        row.key: row
        for row in Throttle.objects.select_for_update().filter(key__in=list(rules)).order_by("key")
    }
    if refuse:
        if any(is_locked(rules[k], r.failures, r.last_failure_at, now) for k, r in rows.items()):
            raise Locked()
        longest = max(
            (wait_seconds(rules[k], r.failures, r.last_failure_at, now) for k, r in rows.items()),
            default=0.0,
        )
        if longest > 0:
            raise RateLimited(longest)
    counted = []
    created = []
    for key, rule in rules.items():
        row = rows.get(key)
        if row is None:
            created.append(Throttle(key=key, failures=1, last_failure_at=now))
            counted.append(Counted(key, rule, None, 1, now))
            continue
        # Forgotten failures start the count afresh.
        failures = effective_failures(rule, row.failures, row.last_failure_at, now) + 1
        Throttle.objects.filter(key=key).update(failures=failures, last_failure_at=now)
        counted.append(Counted(key, rule, (row.failures, row.last_failure_at), failures, now))
    if created:
        # IntegrityError (and a retry) when a parallel request created one of them first.
        Throttle.objects.bulk_create(created)
    return Reservation(tuple(counted))


def reserve(keys: Keys, *, now: dt.datetime) -> Reservation:
    """Count one try on every key before the guess is checked; Locked or RateLimited (and
    nothing counted) when any key allows no try now.

    The caller then checks the guess: a wrong one stays counted; a right one, or input that
    is no guess, is given back with :meth:`Reservation.refund`.
    """
    return _count(_keyed(keys), now=now, refuse=True)


def fail(keys: Keys, *, now: dt.datetime) -> None:
    """Count one failure on every key, whatever their state (parallel failures all count)."""
    _count(_keyed(keys), now=now, refuse=False)


@dataclass(frozen=True)
class State:
    """What a key allows now, read without counting (the helpdesk's view of a lockout)."""

    failures: int
    locked: bool
    #: Seconds until the next try is allowed (0: now).
    wait: float

    @property
    def retry_after(self) -> int:
        """``wait`` in whole seconds, rounded up (0: now), as a Retry-After header says it."""
        return math.ceil(self.wait)


def state_of(key: str, rule: Rule, *, now: dt.datetime) -> State:
    row = Throttle.objects.filter(key=key).first()
    if row is None:
        return State(0, False, 0.0)
    return State(
        row.failures,
        is_locked(rule, row.failures, row.last_failure_at, now),
        wait_seconds(rule, row.failures, row.last_failure_at, now),
    )


def hashed(text: str) -> str:
    """A key part for what a person typed (an e-mail address): keyed, so the table does not
    keep the addresses people typed, and of a fixed size whatever they typed."""
    return salted_hmac("vahva.signin.throttle.key", text, algorithm="sha256").hexdigest()


def clear(keys: Iterable[str]) -> None:
    _delete(Throttle.objects.filter(key__in=list(keys)))


def _delete(rows: Any) -> int:
    """One DELETE, without the transaction Django's delete() wraps it in (``BEGIN IMMEDIATE;
    DELETE; COMMIT`` on SQLite): nothing refers to a throttle row and no signal listens, so
    there is nothing else to delete with it, and one statement is atomic by itself."""
    return int(rows._raw_delete(rows.db))


def _delete_returning_keys(where: Q) -> set[str]:
    """One ``DELETE ... RETURNING key`` (SQLite 3.35+, PostgreSQL): the keys of the rows it
    removed, so a refund knows which of its rows were still as it left them (untouched: no
    parallel try counted on them meanwhile) without a statement per row."""
    rows = Throttle.objects.filter(where)
    query = rows.query.clone()
    query.__class__ = DeleteQuery
    sql, params = query.get_compiler(rows.db).as_sql()
    key = connections[rows.db].ops.quote_name("key")
    with connections[rows.db].cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {key}", params)
        return {str(found) for (found,) in cursor.fetchall()}


def failures_of(key: str) -> int:
    row = Throttle.objects.filter(key=key).first()
    return row.failures if row else 0
