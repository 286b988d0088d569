"""A typed one-time code, checked for a person outside a browser sign-in: the validation API
for gateways and scripts (and any protocol whose client types a code after the password).

The person's methods whose answer is an RFC 6238 code (an authenticator app, the vahva app's
offline code) are checked with the same rules as a sign-in's second factor: the account's MFA
throttle (the key a sign-in counts on), single use (a step accepted here is refused at a
sign-in, and the other way round) and an audit row per check. The protocol room names no
method: it asks here.

**One write transaction per check.** Everything a check reads and writes happens while the
account's throttle key is locked (SQLite: the ``BEGIN IMMEDIATE`` that opens the transaction,
which every writer waits for; PostgreSQL: the key's row, made if missing and locked by the
statement that reads the person, see :func:`_statement`): its state is read, the guess
refused if the key allows no try, the code checked (the step consumed with a conditional
UPDATE), then a wrong guess counted or a right one clears the key, and the audit row
written, all committed together. No other request can read the key between the lock and the
commit, so this is the throttle's reserve-first rule in one transaction: N parallel guesses
are checked one after the other, each seeing the failures before it (DESIGN §7). On SQLite a
right code writes the counter and the audit row and nothing else: no throttle row is made
and removed again.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from vahva import clock, prepared
from vahva.accounts.models import normalise_email
from vahva.audit.log import record
from vahva.errors import InvalidCode, MalformedInput, ReplayedCode
from vahva.methods import registry
from vahva.methods.base import Role
from vahva.methods.models import RegisteredMethod

from . import second_factor, throttle
from .attempts import rule

if TYPE_CHECKING:
    from vahva.accounts.models import User

_SPACES = re.compile(r"[\s-]+")
#: The account's MFA key (attempts.mfa_keys' last), the one a browser's sign-in counts on.
_ACCOUNT_KEY = "mfa:acct:"


@dataclass(frozen=True)
class Accepted:
    user: User
    method: str


def _typed(code: str) -> str:
    """Spaces and dashes out; 6 to 8 digits (apps show 6, some tokens 8), else not a guess."""
    typed = _SPACES.sub("", code or "")
    if not typed:
        raise MalformedInput(_("Enter the code."))
    if not typed.isascii() or not typed.isdigit() or not 6 <= len(typed) <= 8:
        raise MalformedInput(_("The code is 6 to 8 digits, for example 123456."))
    return typed


def _order(registered: RegisteredMethod) -> tuple[bool, bool, bool, dt.datetime, int]:
    # methods.service.registered_for's order: a stand-in first, the fallbacks last, then the
    # default, then the oldest.
    role = registry.get(registered.kind).role
    return (
        role is not Role.STAND_IN,
        role is Role.FALLBACK,
        not registered.is_default,
        registered.created_at,
        registered.pk,
    )


def _statement(kinds: tuple[str, ...]) -> str:
    """The person, their code methods and the account key's throttle state in one statement,
    written once per process: the ORM would build and compile the same query (a join, a
    subquery) on every check, which cost more CPU than running it.

    SQLite reads the key's row (the transaction's BEGIN IMMEDIATE is the lock). PostgreSQL has
    no row to lock for a key without one, and parallel guesses would all see "no failures":
    the same statement makes the row (no failures yet) or takes the existing one, locked
    until the transaction ends (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``), for a
    person who has a code method.
    """
    return prepared.statement("codes.methods:" + ",".join(kinds), lambda q: _write(kinds, q))


def _write(kinds: tuple[str, ...], quote: Callable[[str], str]) -> str:
    def q(name: str | None) -> str:
        return quote(str(name))

    methods, user = RegisteredMethod._meta, get_user_model()._meta
    columns = prepared.columns(RegisteredMethod, quote, "m.")
    email, pk = q(user.get_field("email").column), q(user.pk.column if user.pk else "id")
    method_table, user_table = q(methods.db_table), q(user.db_table)
    throttle_table = q(throttle.Throttle._meta.db_table)
    failures, last = q("failures"), q("last_failure_at")
    # methods.service._working: an expired method has stopped by itself.
    code_method = " ".join(
        [
            f"(m.{q('expires_at')} IS NULL OR m.{q('expires_at')} > %s)",
            f"AND m.{q('kind')} IN ({', '.join(['%s'] * len(kinds))})",
        ]
    )
    person = f"u.{email} = %s AND u.{q('is_active')} = %s"
    joined = f"{method_table} m JOIN {user_table} u ON u.{pk} = m.{q('user_id')}"
    if connection.vendor == "sqlite":
        account_key = f"('{_ACCOUNT_KEY}' || CAST(u.{pk} AS TEXT))"
        statement = " ".join(
            [
                f"SELECT {columns}, u.{email} AS u_email,",
                f"t.{failures} AS t_failures, t.{last} AS t_last FROM {joined}",
                # The account key's row (none for most people).
                f"LEFT JOIN {throttle_table} t ON t.{q('key')} = {account_key}",
                f"WHERE {person} AND {code_method}",
            ]
        )
    else:
        # Identifiers from the models, values as parameters (SQL injection: none typed in).
        statement = " ".join(
            [
                f"WITH person AS (SELECT u.{pk} AS id FROM {user_table} u WHERE {person}",  # noqa: S608
                f"AND EXISTS (SELECT 1 FROM {method_table} m WHERE m.{q('user_id')} = u.{pk}",  # noqa: S608
                f"AND {code_method})),",
                f"locked AS (INSERT INTO {throttle_table} ({q('key')}, {failures}, {last})",
                f"SELECT '{_ACCOUNT_KEY}' || CAST(id AS TEXT), 0, NULL FROM person",  # noqa: S608
                f"ON CONFLICT ({q('key')}) DO UPDATE SET {failures} = {throttle_table}.{failures}",
                f"RETURNING {failures}, {last})",
                f"SELECT {columns}, u.{email} AS u_email,",
                f"t.{failures} AS t_failures, t.{last} AS t_last FROM {joined}",
                f"CROSS JOIN locked t WHERE {person} AND {code_method}",
            ]
        )
    return statement


def _code_methods(address: str, *, now: dt.datetime) -> list[RegisteredMethod]:
    """The active person's working methods whose answer is a code they read from something
    they hold (an authenticator app, the vahva app's offline code, a hardware token: each
    method says so), in registered_for's order, each with ``user`` (its primary key and
    address; the rest read if asked for) and the account key's throttle row (``t_failures``,
    ``t_last``: None without one; see :func:`_statement`). A texted code needs a text sent
    first; a pass or a security key is not something a VPN client can type."""
    kinds = tuple(m.kind for m in registry.all_methods() if registry.typed_code(m.kind))
    if not kinds:
        return []
    params: list[Any] = [address, True, now, *kinds]
    if connection.vendor != "sqlite":
        params = params * 2  # the person in the WITH, and again in the SELECT
    found = list(RegisteredMethod.objects.raw(_statement(kinds), params))
    user_model = get_user_model()
    for registered in found:
        registered.user = user_model.from_db(
            connection.alias, ["id", "email"], [registered.user_id, vars(registered)["u_email"]]
        )
    return sorted(found, key=_order)


def _last_failure(value: Any) -> dt.datetime | None:
    """A datetime column read outside a model: SQLite gives a naive one (or its text), UTC."""
    if value is None:
        return None
    parsed = value if isinstance(value, dt.datetime) else parse_datetime(str(value))
    # As Django's SQLite backend converts a model's datetime.
    if parsed is not None and django_settings.USE_TZ and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, connection.timezone)
    return parsed


def _locked_state(found: RegisteredMethod) -> tuple[int, dt.datetime | None] | None:
    """The account key's (failures, last failure) as :func:`_code_methods` read it under the
    key's lock, or None without a row.

    SQLite: read inside BEGIN IMMEDIATE, which every other writer (a sign-in's reservation, a
    parallel check) waits for; PostgreSQL: the row locked by the same statement. Either way the
    state cannot change before this transaction ends.
    """
    failures = vars(found).get("t_failures")
    if failures is None:
        return None
    return int(failures), _last_failure(vars(found).get("t_last"))


def _unknown(request: HttpRequest, address: str, action: str, **audit: Any) -> None:
    """Audit a check for an address without a person or without a code method."""
    user = get_user_model().objects.filter(email=address, is_active=True).first()
    record(
        action,
        subject=user,
        request=request,
        outcome="failure",
        reason="unknown e-mail address" if user is None else "no authenticator app",
        email=address[:254],
        **audit,
    )


def check_code(
    request: HttpRequest, *, email: str, code: str, action: str, **audit: Any
) -> Accepted:
    """Accept ``code`` for the person with ``email`` once, or raise a VahvaError.

    MalformedInput for a code that is not 6 to 8 digits (not a guess: not counted); InvalidCode
    for a wrong code, an unknown person or one without a code method (the same answer, so the
    caller does not learn who has an account); ReplayedCode for a code already accepted, here
    or at a sign-in; RateLimited / Locked from the account's MFA throttle (nothing counted, no
    check). ``audit``: extra fields of the audit rows (the API client's name).
    """
    now = clock.now()
    typed = _typed(code)
    address = normalise_email(email)
    account = rule("THROTTLE_MFA_ACCOUNT")
    failure: InvalidCode | ReplayedCode | None = None
    with transaction.atomic():
        candidates = _code_methods(address, now=now)
        if not candidates:
            _unknown(request, address, action, **audit)
            # Committed with the audit row, then raised.
            failure = InvalidCode()
        else:
            user = candidates[0].user
            held = second_factor.LockedKey(
                f"{_ACCOUNT_KEY}{user.pk}", account, _locked_state(candidates[0])
            )
            # A person may have an authenticator app and the vahva app: the code tells which
            # one it came from (pure checks, nothing consumed). None matching: the default one
            # is checked, so that the wrong code counts once and is audited once. One method
            # (the usual case): nothing to choose, its check alone computes the window.
            chosen = candidates[0]
            if len(candidates) > 1:
                chosen = next((m for m in candidates if _matches(m, typed, now=now)), chosen)
            try:
                second_factor.check_under_lock(
                    request, user, chosen, typed, action=action, held=held, now=now
                )
            except (InvalidCode, ReplayedCode) as exc:
                # Committed with the count and the audit rows, then raised.
                failure = exc
            else:
                record(
                    action, subject=user, actor=user, request=request, method=chosen.kind, **audit
                )
                return Accepted(user, chosen.kind)
    assert failure is not None
    raise failure


def _matches(registered: RegisteredMethod, code: str, *, now: dt.datetime) -> bool:
    method = registry.typed_code(registered.kind)
    return method is not None and method.matches(registered, code, now=now)
