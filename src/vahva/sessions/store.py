"""Django's database session engine, with the statements a sign-in does not need left out.

``SESSION_ENGINE = "vahva.sessions.store"``. The sessions stay in the database, where signing
out (here or from another browser) deletes them at once. What changes is only how many
statements a session write takes:

- A new key is not looked up first (``SELECT 1 ... WHERE session_key = ...``): the key is 32
  random characters, and the INSERT itself refuses a key that exists (the primary key), which
  Django's ``create()`` answers with another key. No session is ever overwritten.
- A key is deleted with one ``DELETE``, not a ``SELECT`` and then a ``DELETE``.
- Signing in (``cycle_key``) deletes the old key at once, as before (session fixation: the
  key the browser had before signing in is worth nothing from then on), but writes the new
  session once, when the response is sent, with everything the request put in it, instead of
  an INSERT now and an UPDATE at the end.
- A single INSERT or UPDATE outside a transaction is not wrapped in one (``BEGIN IMMEDIATE;
  ...; COMMIT`` on SQLite): one statement is atomic by itself. Inside a transaction it still
  gets its savepoint, so that a refused INSERT does not break the outer transaction.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from django.db import DatabaseError, IntegrityError, router, transaction
from django.utils.crypto import get_random_string


class SessionStore(DatabaseStore):
    def _get_new_session_key(self) -> str:
        # No lookup: a key that exists already is refused by the INSERT (see create()).
        return get_random_string(32, VALID_KEY_CHARS)

    def cycle_key(self) -> None:
        data = self._session  # type: ignore[attr-defined]  # Django's, not in the stubs
        key = self.session_key
        if key:
            # Session fixation: the key from before signing in is gone now, not at the end.
            self.delete(key)
        # A new key is made, and the session written, when the response saves it.
        self._session_key = None
        self._session_cache = data
        self.modified = True

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        # One DELETE: nothing refers to a session row, so no transaction around it.
        rows = self.model.objects.filter(session_key=session_key)
        rows._raw_delete(rows.db)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)  # type: ignore[attr-defined]
        obj = self.create_model_instance(data)
        using = router.db_for_write(self.model, instance=obj)
        try:
            if transaction.get_connection(using).in_atomic_block:
                with transaction.atomic(using=using):
                    self._write(obj, must_create=must_create, using=using)
            else:
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

    @staticmethod
    def _write(obj: Any, *, must_create: bool, using: str) -> None:
        obj.save(force_insert=must_create, force_update=not must_create, using=using)
