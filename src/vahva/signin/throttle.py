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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connections, models, router, transaction
from django.utils.crypto import salted_hmac

from vahva import prepared
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
        cleared = sorted(set(clear))
        # The usual success (the account's key cleared, the rows this try created removed)
        # is one DELETE, which says which rows it removed.
        created = [c for c in self.counted if c.key not in cleared and c.before is None]
        removed = _delete_returning_keys(cleared, created) if cleared or created else set()
        for c in self.counted:
            if c.key in cleared:
                continue
            if c.before is None:
                restored = c.key in removed
            else:
                # Only if no parallel try was counted on the key meanwhile (the row is as
                # this try left it): a refund never erases another try's failure.
                restored = bool(
                    _execute(
                        "restore",
                        _restore,
                        [c.before[0], c.before[1], c.key, c.failures, c.at],
                    )
                )
            if not restored:
                # Other tries were counted on the key meanwhile: take back only this one.
                _execute("give_back", _give_back, [c.key])


def _keyed(keys: Keys) -> dict[str, Rule]:
    # Sorted: parallel reservations lock the rows in one order, so they cannot deadlock.
    return dict(sorted(dict(keys).items()))


def _count(rules: dict[str, Rule], *, now: dt.datetime, refuse: bool) -> Reservation:
    """In one transaction: lock the keys' rows, refuse if ``refuse`` and they allow no try,
    count one failure on each."""
    if _write_locked():
        # Inside a caller's transaction that holds the database's write lock: no parallel
        # request can create one of the rows first, so no savepoint (and no retry) is needed.
        return _count_locked(rules, now=now, refuse=refuse)
    for _attempt in range(_RETRIES):
        try:
            with transaction.atomic():
                return _count_locked(rules, now=now, refuse=refuse)
        except IntegrityError:
            # A parallel request created one of the rows first: take them again, now locked.
            continue
    raise RateLimited(1)


def _write_locked() -> bool:
    """Whether this connection is in a transaction that took SQLite's write lock at its BEGIN
    (``transaction_mode`` IMMEDIATE or EXCLUSIVE, as vahva's settings set it): every other
    writer waits for its COMMIT, so its reads and writes are already serialised. PostgreSQL
    locks rows, not the database: a parallel INSERT of a key is possible there, and the
    savepoint that lets a reservation retry after one stays."""
    connection = connections[_db()]
    mode = str(connection.settings_dict.get("OPTIONS", {}).get("transaction_mode") or "")
    return (
        connection.vendor == "sqlite"
        and connection.in_atomic_block
        and mode.upper() in ("IMMEDIATE", "EXCLUSIVE")
    )


def refuse_if_throttled(
    states: Iterable[tuple[Rule, int, dt.datetime | None]], *, now: dt.datetime
) -> None:
    """Locked when one of the keys' counted states (rule, failures, last failure) is locked,
    else RateLimited for the longest back-off still running; nothing when a try is allowed.
    Read the states under the keys' lock: guessing past the lock, or faster than the
    back-off allows, is refused before anything is checked."""
    states = list(states)
    if any(is_locked(rule, failures, last, now) for rule, failures, last in states):
        raise Locked()
    longest = max((wait_seconds(rule, f, last, now) for rule, f, last in states), default=0.0)
    if longest > 0:
        raise RateLimited(longest)


def _count_locked(rules: dict[str, Rule], *, now: dt.datetime, refuse: bool) -> Reservation:
    # The lock is the point: a parallel try waits here until this one is counted (PostgreSQL
    # row locks; SQLite's IMMEDIATE transactions serialise writers the same way).
    found = _rows_locked(list(rules))
    if refuse:
        refuse_if_throttled([(rules[k], *row) for k, row in found.items()], now=now)
    counted = []
    created: list[Any] = []
    for key, rule in rules.items():
        row = found.get(key)
        if row is None:
            created += [key, 1, now]
            counted.append(Counted(key, rule, None, 1, now))
            continue
        # Forgotten failures start the count afresh.
        failures = effective_failures(rule, row[0], row[1], now) + 1
        _execute("count", _count_sql, [failures, now, key])
        counted.append(Counted(key, rule, row, failures, now))
    if created:
        # IntegrityError (and a retry) when a parallel request created one of them first.
        rows = len(created) // 3
        _execute(f"create:{rows}", lambda quote: _create(quote, rows), created)
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
    wanted = sorted(set(keys))
    if wanted:
        # One DELETE, without the transaction Django's delete() wraps it in (``BEGIN
        # IMMEDIATE; DELETE; COMMIT`` on SQLite): nothing refers to a throttle row and no
        # signal listens, and one statement is atomic by itself.
        _execute(f"clear:{len(wanted)}", lambda quote: _clear(quote, len(wanted)), wanted)


def _delete_returning_keys(cleared: list[str], created: list[Counted]) -> set[str]:
    """One ``DELETE ... RETURNING key`` (SQLite 3.35+, PostgreSQL) of the ``cleared`` keys'
    rows and of the rows of ``created`` still as their try left them: the keys of the rows it
    removed, so a refund knows which of its rows were untouched (no parallel try counted on
    them meanwhile) without a statement per row."""
    name = f"refund:{len(cleared)}:{len(created)}"
    params: list[Any] = [*cleared]
    for c in created:
        params += [c.key, c.failures, c.at]
    found = prepared.rows(
        _sql(name, lambda quote: _refund(quote, len(cleared), len(created))), params, using=_db()
    )
    return {str(key) for (key,) in found}


# The statements, written once per process and database from the model's names (quoted); every
# key, count and time is a parameter (a key holds what a person typed: never SQL text).


def _names(quote: Callable[[str], str]) -> tuple[str, str, str, str]:
    key, failures, last = (
        quote(prepared.column(Throttle, name)) for name in ("key", "failures", "last_failure_at")
    )
    return prepared.table(Throttle, quote), key, failures, last


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


def _locked_sql(quote: Callable[[str], str], count: int) -> str:
    table, key, failures, last = _names(quote)
    # The row lock on PostgreSQL; SQLite has none, its IMMEDIATE transaction serialises.
    lock = " FOR UPDATE" if connections[_db()].features.has_select_for_update else ""
    return (
        f"SELECT {key}, {failures}, {last} FROM {table} "  # noqa: S608
        f"WHERE {key} IN ({_marks(count)}) ORDER BY {key} ASC{lock}"
    )


def _count_sql(quote: Callable[[str], str]) -> str:
    table, key, failures, last = _names(quote)
    return f"UPDATE {table} SET {failures} = %s, {last} = %s WHERE {key} = %s"  # noqa: S608


def _create(quote: Callable[[str], str], rows: int) -> str:
    table, key, failures, last = _names(quote)
    values = ", ".join(["(%s, %s, %s)"] * rows)
    return f"INSERT INTO {table} ({key}, {failures}, {last}) VALUES {values}"  # noqa: S608


def _restore(quote: Callable[[str], str]) -> str:
    table, key, failures, last = _names(quote)
    return (
        f"UPDATE {table} SET {failures} = %s, {last} = %s "  # noqa: S608
        f"WHERE {key} = %s AND {failures} = %s AND {last} = %s"
    )


def _give_back(quote: Callable[[str], str]) -> str:
    table, key, failures, _last = _names(quote)
    return (
        f"UPDATE {table} SET {failures} = {failures} - 1 "  # noqa: S608
        f"WHERE {key} = %s AND {failures} > 0"
    )


def _clear(quote: Callable[[str], str], count: int) -> str:
    table, key, _failures, _last = _names(quote)
    return f"DELETE FROM {table} WHERE {key} IN ({_marks(count)})"  # noqa: S608


def _refund(quote: Callable[[str], str], cleared: int, created: int) -> str:
    table, key, failures, last = _names(quote)
    where = [f"{key} IN ({_marks(cleared)})"] if cleared else []
    where += [f"({key} = %s AND {failures} = %s AND {last} = %s)"] * created
    return f"DELETE FROM {table} WHERE {' OR '.join(where)} RETURNING {key}"  # noqa: S608


def _db() -> str:
    return router.db_for_write(Throttle)


def _sql(name: str, write: Callable[[Callable[[str], str]], str]) -> str:
    return prepared.statement(f"throttle.{name}", write, using=_db())


def _execute(name: str, write: Callable[[Callable[[str], str]], str], params: list[Any]) -> int:
    return prepared.execute(_sql(name, write), params, using=_db())


def _rows_locked(keys: list[str]) -> dict[str, tuple[int, dt.datetime | None]]:
    """The keys' rows (failures, last failure), locked until the transaction ends."""
    fields = [prepared.field(Throttle, name) for name in ("key", "failures", "last_failure_at")]
    found = prepared.rows(
        _sql(f"locked:{len(keys)}", lambda quote: _locked_sql(quote, len(keys))),
        keys,
        using=_db(),
        fields=fields,
    )
    return {str(key): (int(failures), last) for key, failures, last in found}


def failures_of(key: str) -> int:
    row = Throttle.objects.filter(key=key).first()
    return row.failures if row else 0
