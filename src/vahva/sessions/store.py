"""Django's database session engine, with the statements a sign-in does not need left out.

``SESSION_ENGINE = "vahva.sessions.store"``. The sessions stay in the database, where signing
out (here or from another browser) deletes them at once. What changes is only how many
statements a session write takes:

- A new key is not looked up first (``SELECT 1 ... WHERE session_key = ...``): the key is 32
  random characters, and the INSERT itself refuses a key that exists (the primary key), which
  Django's ``create()`` answers with another key. No session is ever overwritten.
- A key is deleted with one ``DELETE``, not a ``SELECT`` and then a ``DELETE``.
- Signing in (``cycle_key``) moves the session to a new key with one ``UPDATE ... SET
  session_key = <new> WHERE session_key = <old>`` when the response is sent, with everything
  the request put in it (was: a DELETE of the old row at once, an INSERT of the new one at
  the end). Session fixation: the key the browser had before signing in is worth nothing from
  then on; the signed-in state is only ever written under the new key, and until the move the
  old key holds what it held before signing in. If the old row is gone (signed out
  meanwhile), the new session is INSERTed.
- The INSERT, the UPDATE and the move are written as the statements themselves
  (``_execute``), with every value a parameter, not rebuilt by the ORM on each write.
- A session is loaded with one prepared ``SELECT session_data ... WHERE session_key = %s AND
  expire_date > %s`` (the same statement as Django's, whose ORM rebuilt and compiled it on
  every request, about a quarter of a millisecond of CPU, twice per sign-in); the signed data
  is checked and decoded by Django as before, and an unknown or expired key is dropped as
  Django drops it (the next save makes a new key: a key the browser made up is never adopted).
- A single INSERT or UPDATE outside a transaction is not wrapped in one (``BEGIN IMMEDIATE;
  ...; COMMIT`` on SQLite): one statement is atomic by itself. Inside a transaction it still
  gets its savepoint, so that a refused INSERT does not break the outer transaction.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from django.db import DatabaseError, IntegrityError, connections, router, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string

from vahva import prepared


class SessionStore(DatabaseStore):
    #: The key before ``cycle_key``, whose row the next save moves to the new key.
    _cycled_from: str | None = None

    def _get_new_session_key(self) -> str:
        # No lookup: a key that exists already is refused by the INSERT (see create()).
        return get_random_string(32, VALID_KEY_CHARS)

    def load(self) -> dict[str, Any]:
        data = self._session_data()
        if data is None:
            # Unknown or expired: the next save makes a new key (session fixation: a key
            # an attacker chose, or an old one, is never written to).
            self._session_key = None
            return {}
        decoded: dict[str, Any] = self.decode(data)
        return decoded

    def _session_data(self) -> str | None:
        """The stored (signed) data of this session's key, if it has not expired."""
        if not self.session_key:
            return None
        using = router.db_for_read(self.model)
        table = connections[using].ops.quote_name(self.model._meta.db_table)
        # Only the key and the time are values, and they are parameters (no injection); the
        # table name is the model's own, quoted.
        found = prepared.rows(
            f"SELECT session_data FROM {table} WHERE session_key = %s AND expire_date > %s",  # noqa: S608
            [self.session_key, timezone.now()],
            using=using,
        )
        return str(found[0][0]) if found else None

    def cycle_key(self) -> None:
        data = self._session  # type: ignore[attr-defined]  # Django's, not in the stubs
        key = self.session_key
        if key:
            # Session fixation: the save moves the row off this key (see _move()).
            self._cycled_from = key
        # A new key is made, and the session written, when the response saves it.
        self._session_key = None
        self._session_cache = data
        self.modified = True

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self._cycled_from is not None:
                # Signed out in the request that signed in: the old key's row goes too.
                self._delete(self._cycled_from)
                self._cycled_from = None
            if self.session_key is None:
                return
            session_key = self.session_key
        self._delete(session_key)

    def _delete(self, session_key: str) -> None:
        # One DELETE: nothing refers to a session row, so no transaction around it.
        rows = self.model.objects.filter(session_key=session_key)
        rows._raw_delete(rows.db)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            cycled, self._cycled_from = self._cycled_from, None
            if cycled is not None and self._move(cycled):
                return None
            return self.create()
        data = self._get_session(no_load=must_create)  # type: ignore[attr-defined]
        obj = self.create_model_instance(data)
        using = router.db_for_write(self.model, instance=obj)
        try:
            with self._atomic_if_nested(using):
                self._write(obj, must_create=must_create, using=using)
        except IntegrityError:
            if must_create:
                raise CreateError from None
            raise
        except DatabaseError:
            if not must_create:
                raise UpdateError from None
            raise
        return None

    def _move(self, old_key: str) -> bool:
        """The row of ``old_key`` under a new key with this session's data, in one UPDATE;
        False when there is no such row (then nothing was written)."""
        for _ in range(10):
            self._session_key = self._get_new_session_key()
            obj = self.create_model_instance(self._get_session(no_load=True))  # type: ignore[attr-defined]
            using = router.db_for_write(self.model, instance=obj)
            try:
                with self._atomic_if_nested(using):
                    moved = self._execute(
                        using,
                        "UPDATE {table} SET session_key = %s, session_data = %s, "
                        "expire_date = %s WHERE session_key = %s",
                        [obj.session_key, obj.session_data, obj.expire_date, old_key],
                    )
            except IntegrityError:
                continue  # the new key exists (32 random characters: never in practice)
            if not moved:
                self._session_key = None
                return False
            self.modified = True
            return True
        self._session_key = None
        return False

    @staticmethod
    def _atomic_if_nested(using: str) -> Any:
        # Inside a transaction, a savepoint: a refused write does not break the outer one.
        if transaction.get_connection(using).in_atomic_block:
            return transaction.atomic(using=using)
        return contextlib.nullcontext()

    def _write(self, obj: Any, *, must_create: bool, using: str) -> None:
        if must_create:
            # A key that exists is refused here (the primary key): IntegrityError, and
            # create() tries another. No session is ever overwritten.
            self._execute(
                using,
                "INSERT INTO {table} (session_key, session_data, expire_date) VALUES (%s, %s, %s)",
                [obj.session_key, obj.session_data, obj.expire_date],
            )
        elif not self._execute(
            using,
            "UPDATE {table} SET session_data = %s, expire_date = %s WHERE session_key = %s",
            [obj.session_data, obj.expire_date, obj.session_key],
        ):
            # Deleted meanwhile (signed out in another tab): as Django's forced update.
            raise DatabaseError("Forced update did not affect any rows.")

    def _execute(self, using: str, sql: str, params: list[Any]) -> int:
        """One prepared statement on the session table; the rows it changed.

        The ORM rebuilt and compiled these statements on every write (a quarter to half a
        millisecond of CPU each); they are the same statements, with every value a parameter.
        """
        table = connections[using].ops.quote_name(self.model._meta.db_table)
        # Only values are parameters; the table name is the model's own, quoted.
        return prepared.execute(sql.format(table=table), params, using=using)
