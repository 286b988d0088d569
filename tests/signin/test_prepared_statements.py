"""The sign-in's statements written once (vahva.prepared) read and write what the ORM did.

Each test writes or reads the same thing both ways and compares what the database holds (the
stored text of a JSON field or a datetime, as a later comparison in SQL sees it) or what the
caller gets back (instances with their secrets decrypted and their JSON parsed). They run on
SQLite and, with ``python -m tests.postgres_server``, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext

from vahva.audit.log import record
from vahva.audit.models import AuditEvent
from vahva.errors import AlreadyCompleted, RateLimited, ReplayedCode
from vahva.methods import service
from vahva.methods.models import RegisteredMethod
from vahva.signin import attempts, throttle
from vahva.signin.models import SignInAttempt
from vahva.signin.states import Event, State
from vahva.signin.throttle import Rule, Throttle

pytestmark = pytest.mark.django_db

RULE = Rule(free=3, base=1.0, cap=60.0, limit=10, forget=3600)
#: A time with microseconds: the stored text must keep them as the ORM's does.
ODD = dt.timedelta(microseconds=123456)


def _stored(model: Any, pk: Any, *, leave_out: tuple[str, ...] = ("id",)) -> dict[str, Any]:
    """The row as the database holds it (no ORM converters), less ``leave_out``."""
    table = connection.ops.quote_name(model._meta.db_table)
    pk_column = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM {table} WHERE {pk_column} = %s",  # noqa: S608
            [model._meta.pk.get_db_prep_value(pk, connection)],
        )
        names = [column[0] for column in cursor.description]
        (row,) = cursor.fetchall()
    return {name: value for name, value in zip(names, row, strict=True) if name not in leave_out}


def _fields(instance: Any) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


# -- the person's working methods -------------------------------------------------------------


def test_the_working_methods_are_the_orms_in_its_order(
    alice: Any, make_user: Any, clock: Any
) -> None:
    now = clock()
    registered = now - dt.timedelta(days=1)
    first = service.save_new(alice, "totp", now=registered, secret="JBSWY3DPEHPK3PXP")
    # The same moment as the first: the id decides, as the model's ordering says.
    tied = service.save_new(alice, "totp", now=registered, secret="KRSXG5CTMVRXEZLU")
    RegisteredMethod.objects.filter(pk=tied.pk).update(data={"läpi": [1, {"b": None}]})
    later = service.save_new(alice, "totp", now=registered - ODD, secret="GEZDGNBVGY3TQOJQ")
    ends = RegisteredMethod.objects.create(
        user=alice, kind="totp", created_at=registered, expires_at=now + ODD
    )
    ended = RegisteredMethod.objects.create(
        user=alice, kind="totp", created_at=registered, expires_at=now
    )
    bob = make_user("bob@example.org")
    service.save_new(bob, "totp", now=registered, secret="MFRGGZDFMZTWQ2LK")

    orm = list(
        RegisteredMethod.objects.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now), user=alice
        )
    )
    prepared = service._working_of(alice.pk, now)

    assert [m.pk for m in prepared] == [m.pk for m in orm] == [later.pk, first.pk, tied.pk, ends.pk]
    assert ended.pk not in [m.pk for m in prepared]  # ended at this very moment: not working
    for mine, theirs in zip(prepared, orm, strict=True):
        assert type(mine) is RegisteredMethod
        assert _fields(mine) == _fields(theirs)  # the secret decrypted, the JSON parsed
        assert mine._state.db == theirs._state.db
        assert not mine._state.adding
    assert prepared[2].data == {"läpi": [1, {"b": None}]}
    assert prepared[1].secret == "JBSWY3DPEHPK3PXP"
    assert {m.pk for m in service.registered_for(alice)} == {m.pk for m in orm}


# -- the throttle -------------------------------------------------------------------------------


def test_a_reserved_row_is_stored_as_the_orm_stores_one(clock: Any) -> None:
    now = clock() + ODD
    throttle.reserve([("k:prepared", RULE)], now=now)
    Throttle.objects.create(key="k:orm", failures=1, last_failure_at=now)

    def row(key: str) -> dict[str, Any]:
        return _stored(Throttle, key, leave_out=("key",))

    # The same stored text: the refund's "untouched since my try" compares it in SQL.
    assert row("k:prepared") == row("k:orm")
    counted = Throttle.objects.get(key="k:prepared")
    assert (counted.failures, counted.last_failure_at) == (1, now)


def test_a_reservation_counts_reads_back_and_refunds_as_before(clock: Any) -> None:
    start = clock() + ODD
    keys = [("k:b", RULE), ("k:a", RULE)]
    for step in range(3):
        throttle.reserve(keys, now=start + dt.timedelta(seconds=step))
    # Wrong three times: both keys counted, at the last try's time to the microsecond.
    last = start + dt.timedelta(seconds=2)
    assert {(t.key, t.failures, t.last_failure_at) for t in Throttle.objects.all()} == {
        ("k:a", 3, last),
        ("k:b", 3, last),
    }
    later = last + dt.timedelta(seconds=5)
    mine = throttle.reserve(keys, now=later)
    assert mine.counted[0].before == (3, last)  # read back as the ORM read it
    mine.refund()
    assert {(t.key, t.failures, t.last_failure_at) for t in Throttle.objects.all()} == {
        ("k:a", 3, last),
        ("k:b", 3, last),
    }
    throttle.reserve(keys, now=later).refund(clear=["k:a"])
    assert list(Throttle.objects.values_list("key", "failures")) == [("k:b", 3)]


def test_clearing_no_keys_runs_no_statement(db: Any) -> None:
    Throttle.objects.create(key="k:kept", failures=2)
    with CaptureQueriesContext(connection) as captured:
        throttle.clear([])
    assert captured.captured_queries == []
    throttle.clear(["k:kept", "k:unknown"])
    assert not Throttle.objects.exists()


def test_a_key_is_a_parameter_never_sql(clock: Any) -> None:
    # Keys hold what a person typed (through hashed(), but a caller may pass text).
    evil = "k:'); DELETE FROM signin_throttle; --"
    Throttle.objects.create(key="k:other", failures=4, last_failure_at=clock())
    throttle.reserve([(evil, RULE)], now=clock()).refund()
    throttle.reserve([(evil, RULE)], now=clock())
    throttle.clear([evil])
    assert list(Throttle.objects.values_list("key", "failures")) == [("k:other", 4)]


# -- the attempt ----------------------------------------------------------------------------


def _attempt_fields(alice: Any, now: dt.datetime) -> dict[str, Any]:
    return {
        "user": alice,
        "state": State.MFA_REQUIRED,
        "binding": "b" * 64,
        "created_at": now,
        "expires_at": now + dt.timedelta(minutes=10),
        "completed_at": None,
        "ip": "2001:db8::1",
        "next_url": "/o/authorize/?x=ä",
        "amr": ["pwd", "ö"],
        "reason": "policy: mfa",
    }


def test_an_attempt_is_inserted_as_the_orm_inserts_it(alice: Any, clock: Any) -> None:
    now = clock() + ODD
    mine = attempts.create(**_attempt_fields(alice, now))
    theirs = SignInAttempt.objects.create(**_attempt_fields(alice, now))
    assert isinstance(mine.pk, uuid.UUID)
    assert mine.pk != theirs.pk
    assert not mine._state.adding
    assert mine._state.db == "default"
    # Byte for byte the same row (the JSON's text, the datetimes', the address's).
    assert _stored(SignInAttempt, mine.pk) == _stored(SignInAttempt, theirs.pk)
    assert _fields(SignInAttempt.objects.get(pk=mine.pk)) == _fields(mine)


def test_an_attempt_is_read_as_the_orm_reads_it(alice: Any, clock: Any) -> None:
    made = attempts.create(**_attempt_fields(alice, clock() + ODD))
    orm = SignInAttempt.objects.select_related("user").get(pk=made.pk)
    for found in (attempts.read(made.pk), attempts.read(str(made.pk))):
        assert found is not None
        assert _fields(found) == _fields(orm)
        # The person came with it (no further statement), as select_related's.
        with CaptureQueriesContext(connection) as captured:
            assert _fields(found.user) == _fields(orm.user)
        assert captured.captured_queries == []
    assert attempts.read(uuid.uuid4()) is None
    with transaction.atomic():
        locked = attempts.read_locked(made.pk)
        assert locked is not None
        assert _fields(locked) == _fields(orm)
        assert attempts.read_locked(uuid.uuid4()) is None


def test_a_move_writes_what_the_orms_update_wrote(alice: Any, clock: Any) -> None:
    now = clock() + ODD
    mine = attempts.create(**_attempt_fields(alice, now))
    theirs = attempts.create(**_attempt_fields(alice, now))
    amr = ["mfa", "otp", "pwd"]
    attempts.move(mine, Event.PASS_MFA, completed_at=now, method="totp", amr=amr)
    SignInAttempt.objects.filter(pk=theirs.pk, state=State.MFA_REQUIRED).update(
        state=State.DONE, completed_at=now, method="totp", amr=amr
    )
    assert mine.state == State.DONE
    assert _stored(SignInAttempt, mine.pk) == _stored(SignInAttempt, theirs.pk)
    # Single use: the second finish of the same attempt (another tab) changes nothing.
    stale = SignInAttempt.objects.get(pk=theirs.pk)
    stale.state = State.MFA_REQUIRED
    with pytest.raises(AlreadyCompleted):
        attempts.move(stale, Event.FAIL)
    assert SignInAttempt.objects.get(pk=theirs.pk).state == State.DONE


# -- the audit row --------------------------------------------------------------------------


class _Request:
    client_ip = "192.0.2.7"
    META = {"HTTP_USER_AGENT": "Firefox/ä", "REMOTE_ADDR": "10.0.0.1"}


def test_an_audit_row_is_inserted_as_the_orm_inserts_it(alice: Any, clock: Any) -> None:
    data = {"service": "wiki", "require_mfa": True, "attempt": "ä\"'", "n": [1, None]}
    heard: list[tuple[Any, bool]] = []

    def listen(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
        heard.append((instance.pk, created))

    post_save.connect(listen, sender=AuditEvent)
    try:
        mine = record(
            "signin.password", subject=alice, actor=alice, request=_Request(), reason="r", **data
        )
    finally:
        post_save.disconnect(listen, sender=AuditEvent)
    theirs = AuditEvent.objects.create(
        at=mine.at,
        action="signin.password",
        outcome="ok",
        actor_id=alice.pk,
        subject_id=alice.pk,
        subject_email=alice.email,
        ip="192.0.2.7",
        user_agent="Firefox/ä",
        reason="r",
        data=data,
    )
    assert isinstance(mine.pk, int)
    assert theirs.pk == mine.pk + 1
    assert heard == [(mine.pk, True)]  # the metrics' post_save still hears every row
    assert _stored(AuditEvent, mine.pk) == _stored(AuditEvent, theirs.pk)
    assert AuditEvent.objects.get(pk=mine.pk).data == data


# -- the code's counter (single use) ----------------------------------------------------------


def test_the_counter_moves_as_the_orms_update_moved_it(alice: Any, clock: Any) -> None:
    now = clock() + ODD
    mine = service.save_new(alice, "totp", now=now, secret="JBSWY3DPEHPK3PXP")
    theirs = service.save_new(alice, "totp", now=now, secret="JBSWY3DPEHPK3PXP")
    service.advance_counter(mine, 59_000_123, now=now)
    RegisteredMethod.objects.filter(pk=theirs.pk, counter__lt=59_000_123).update(
        counter=59_000_123, last_used_at=now
    )
    assert (mine.counter, mine.last_used_at) == (59_000_123, now)
    # Byte for byte (the secret is encrypted with a nonce of its own; the first is default).
    leave_out = ("id", "secret", "is_default")
    assert _stored(RegisteredMethod, mine.pk, leave_out=leave_out) == _stored(
        RegisteredMethod, theirs.pk, leave_out=leave_out
    )
    # Single use: the same step again, or an older one, moves nothing and is refused.
    later = now + dt.timedelta(seconds=30)
    for replayed in (59_000_123, 59_000_122):
        with pytest.raises(ReplayedCode):
            service.advance_counter(mine, replayed, now=later)
    stored = RegisteredMethod.objects.get(pk=mine.pk)
    assert (stored.counter, stored.last_used_at) == (59_000_123, now)
    # Another person's method is not touched by an id that is not theirs.
    service.advance_counter(mine, 59_000_124, now=later)
    assert RegisteredMethod.objects.get(pk=theirs.pk).counter == 59_000_123


# -- the reservation inside a caller's transaction ---------------------------------------------


def test_a_reservation_in_a_transaction_takes_a_savepoint_only_where_rows_lock(
    clock: Any,
) -> None:
    keys = [("k:b", RULE), ("k:a", RULE)]
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        throttle.reserve(keys, now=clock())
        throttle.reserve(keys, now=clock() + ODD)
    savepoints = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" in q["sql"]]
    if connection.vendor == "sqlite":
        # The caller's BEGIN IMMEDIATE holds the write lock: nobody can create a row first.
        assert savepoints == []
    else:
        # PostgreSQL: a parallel INSERT of a key is possible; the savepoint lets a retry go on.
        assert len(savepoints) == 4
    assert {(t.key, t.failures) for t in Throttle.objects.all()} == {("k:a", 2), ("k:b", 2)}
    # Refused under the lock as before, and nothing of the refused try is counted (no
    # savepoint to roll back to: the refusal comes before any write).
    later = clock() + ODD
    with transaction.atomic():
        throttle.reserve(keys, now=later)  # the third: still free
        with pytest.raises(RateLimited):
            throttle.reserve(keys, now=later)  # the back-off has begun
    assert {(t.key, t.failures) for t in Throttle.objects.all()} == {("k:a", 3), ("k:b", 3)}


# -- the signed-in browser's row (the session list) -------------------------------------------


def test_a_browser_session_is_inserted_as_the_orm_inserts_it(alice: Any, clock: Any) -> None:
    from django.test import RequestFactory

    from vahva.sessions import service as sessions
    from vahva.sessions.models import BrowserSession

    now = clock() + ODD
    request = RequestFactory().get("/", HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux) Firefox/133.0")
    request.session = {}  # type: ignore[assignment]
    request.client_ip = "2001:db8::7"  # type: ignore[attr-defined]
    mine = sessions.started(request, alice, now=now)
    theirs = BrowserSession.objects.create(
        digest="0" * 64,
        user=alice,
        label=mine.label,
        ip="2001:db8::7",
        signed_in_at=now,
        last_seen_at=now,
    )
    assert isinstance(mine.pk, int)
    assert theirs.pk == mine.pk + 1
    assert mine.label  # the browser's name, from the User-Agent
    assert _stored(BrowserSession, mine.pk, leave_out=("id", "digest")) == _stored(
        BrowserSession, theirs.pk, leave_out=("id", "digest")
    )
    # The row is found by the digest of the id the session holds (the session list's check).
    assert sessions.check(request, alice, now=now, activity=False) == sessions.Status.ACTIVE
