"""A sign-in attempt's moving parts, shared by the engine and the protocols' paths: its
session keys, the throttle's keys, the browser binding and the guarded state move."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections, router
from django.db.transaction import TransactionManagementError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from vahva import prepared
from vahva.accounts.models import normalise_email
from vahva.conf import settings
from vahva.errors import AlreadyCompleted, VahvaError
from vahva.policy import Decision

from . import known_browser, throttle
from .models import SignInAttempt
from .requirements import client_ip
from .states import Event, State, next_state

SESSION_ATTEMPT = "vahva_attempt"
SESSION_BINDING = "vahva_binding"
#: The attempt (by id) whose service accepts only phishing-resistant methods (WebAuthn).
SESSION_PHISHING_RESISTANT = "vahva_phishing_resistant"


class InvalidCredentials(VahvaError):
    status = 400
    # One message for unknown address and wrong password: no account enumeration.
    default_message = _("The e-mail address or the password is not right.")


class NotPhishingResistant(VahvaError):
    """The service accepts only a security key or passkey, and this is not one."""

    status = 403
    reason = "not phishing-resistant: the service accepts only a security key or passkey"
    default_message = _(
        "This service accepts only a security key or passkey. Use one of yours to continue."
    )


@dataclass(frozen=True)
class PasswordResult:
    attempt: SignInAttempt
    decision: Decision

    @property
    def second_step(self) -> bool:
        """Whether the person is asked for a second factor now (a service may demand one of a
        person without methods: then they are signed in, and the door says what to do)."""
        return self.attempt.state == State.MFA_REQUIRED


def rule(name: str) -> throttle.Rule:
    return throttle.Rule.from_setting(getattr(settings, name))


def password_keys(
    request: HttpRequest, email: str, user_pk: object | None
) -> list[tuple[str, throttle.Rule]]:
    """The client address's key, then the account's: the browser's own key when it has signed
    in to the account before, else one for the normalised ``email``."""
    keys = [(f"pw:ip:{client_ip(request)}", rule("THROTTLE_PASSWORD_IP"))]
    own = known_browser.key_for(request, user_pk) if user_pk is not None else None
    # Account enumeration: the address, not the account, is what is counted, so an unknown
    # address is slowed down exactly like an existing one (the same 400s, then the same 429).
    address = throttle.hashed(normalise_email(email))
    keys.append((own or f"pw:acct:{address}", rule("THROTTLE_PASSWORD_ACCOUNT")))
    return keys


def mfa_keys(request: HttpRequest, user_pk: object) -> list[tuple[str, throttle.Rule]]:
    """The client address's key, then the account's (the one the helpdesk reads and clears)."""
    return [
        (f"mfa:ip:{client_ip(request)}", rule("THROTTLE_MFA_IP")),
        (f"mfa:acct:{user_pk}", rule("THROTTLE_MFA_ACCOUNT")),
    ]


def binding(request: HttpRequest) -> str:
    token = request.session.get(SESSION_BINDING)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_BINDING] = token
    return hashlib.sha256(str(token).encode()).hexdigest()


def move(attempt: SignInAttempt, event: Event, **fields: Any) -> None:
    """Apply ``event`` with a conditional UPDATE on the current state.

    Two tabs finishing the same attempt: only the first UPDATE matches; the other raises
    AlreadyCompleted instead of signing in twice.
    """
    target = next_state(State(attempt.state), event)
    using = router.db_for_write(SignInAttempt)
    connection = connections[using]
    names = sorted(fields)
    sql = prepared.statement(
        "attempt.move:" + ",".join(names), lambda quote: _move_sql(quote, names), using=using
    )
    values = [
        prepared.field(SignInAttempt, name).get_db_prep_save(value, connection)
        for name, value in [("state", target), *((n, fields[n]) for n in names)]
    ]
    values += [prepared.field(SignInAttempt, "id").get_db_prep_save(attempt.pk, connection)]
    values += [attempt.state]
    # WHERE state = <the state read>: the second of two parallel finishes changes nothing.
    if not prepared.execute(sql, values, using=using):
        raise AlreadyCompleted()
    attempt.state = target
    for name, value in fields.items():
        setattr(attempt, name, value)


def create(**fields: Any) -> SignInAttempt:
    """A new attempt, INSERTed as ``SignInAttempt.objects.create(**fields)`` does (the same
    statement and values, written once: :mod:`vahva.prepared`)."""
    attempt = SignInAttempt(**fields)
    prepared.insert(attempt, using=router.db_for_write(SignInAttempt))
    return attempt


def read(attempt_id: object) -> SignInAttempt | None:
    """The attempt ``attempt_id`` with its person (one statement, as ``select_related``)."""
    using = router.db_for_read(SignInAttempt)
    connection = connections[using]
    key = SignInAttempt._meta.pk.get_db_prep_value(attempt_id, connection, prepared=False)
    sql = prepared.statement("attempt.read", _read_sql, using=using)
    found = prepared.rows(sql, [key], using=using)
    if not found:
        return None
    row = found[0]
    width = len(SignInAttempt._meta.concrete_fields)
    attempt = prepared.from_row(SignInAttempt, row[:width], using=using)
    assert isinstance(attempt, SignInAttempt)
    attempt.user = prepared.from_row(get_user_model(), row[width:], using=using)  # type: ignore[assignment]
    return attempt


def read_locked(attempt_id: object) -> SignInAttempt | None:
    """The attempt ``attempt_id``, its row locked until the transaction ends (PostgreSQL's
    ``FOR UPDATE``; SQLite's IMMEDIATE transaction holds the database's write lock)."""
    using = router.db_for_write(SignInAttempt)
    connection = connections[using]
    if connection.features.has_select_for_update and connection.get_autocommit():
        # As the ORM's select_for_update(): a lock outside a transaction would hold nothing.
        raise TransactionManagementError(
            "select_for_update cannot be used outside of a transaction."
        )
    key = SignInAttempt._meta.pk.get_db_prep_value(attempt_id, connection, prepared=False)
    sql = prepared.statement("attempt.read_locked", _read_locked_sql, using=using)
    found = prepared.rows(sql, [key], using=using)
    if not found:
        return None
    attempt = prepared.from_row(SignInAttempt, found[0], using=using)
    assert isinstance(attempt, SignInAttempt)
    return attempt


# Statements written once per process and database from the models' names, quoted; the
# attempt's id, states and values are parameters.


def _move_sql(quote: Callable[[str], str], names: list[str]) -> str:
    state, pk = (quote(prepared.column(SignInAttempt, name)) for name in ("state", "id"))
    sets = ", ".join(
        f"{quote(prepared.column(SignInAttempt, name))} = %s" for name in ["state", *names]
    )
    return (
        f"UPDATE {prepared.table(SignInAttempt, quote)} SET {sets} "  # noqa: S608
        f"WHERE {pk} = %s AND {state} = %s"
    )


def _read_sql(quote: Callable[[str], str]) -> str:
    user_model = get_user_model()
    attempts, users = prepared.table(SignInAttempt, quote), prepared.table(user_model, quote)
    person = quote(prepared.column(SignInAttempt, "user"))
    user_pk = quote(str(user_model._meta.pk.column))
    return (
        f"SELECT {prepared.columns(SignInAttempt, quote, attempts + '.')}, "  # noqa: S608
        f"{prepared.columns(user_model, quote, users + '.')} "
        f"FROM {attempts} INNER JOIN {users} ON ({attempts}.{person} = {users}.{user_pk}) "
        f"WHERE {attempts}.{quote(prepared.column(SignInAttempt, 'id'))} = %s LIMIT 1"
    )


def _read_locked_sql(quote: Callable[[str], str]) -> str:
    connection = connections[router.db_for_write(SignInAttempt)]
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return (
        f"SELECT {prepared.columns(SignInAttempt, quote)} "  # noqa: S608
        f"FROM {prepared.table(SignInAttempt, quote)} "
        f"WHERE {quote(prepared.column(SignInAttempt, 'id'))} = %s LIMIT 1{lock}"
    )
