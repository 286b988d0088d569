"""Browser sessions: start, check on each request, list, end.

Lifetimes (NIST SP 800-63B §4.2.3, AAL2): a session ends after ``SESSION_IDLE_TIMEOUT``
seconds without activity and ``SESSION_MAX_AGE`` seconds after the sign-in, however active
the person is. Ending a session here (Security info, the helpdesk) also tells the protocol
rooms (:data:`session_ended`), which revoke the tokens services got from it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import router
from django.dispatch import Signal
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from vahva import clock, prepared
from vahva.accounts.models import User
from vahva.audit.log import record
from vahva.conf import settings
from vahva.errors import VahvaError
from vahva.signin.remembered import label_for, shown_label

from .models import BrowserSession

#: The session's random id (the row keeps its SHA-256).
SESSION_ID = "vahva_sid"
#: "Last seen" is written at most this often: no database write for every request.
SEEN_EVERY = dt.timedelta(minutes=1)

#: Sessions were ended; ``user``, ``digests`` (list of str), ``reason``. The OIDC room revokes
#: the tokens issued from them.
session_ended = Signal()
#: Which services hold tokens from these sessions? ``digests``; a receiver returns
#: {digest: [service name, ...]}.
services_asked = Signal()


class Status(StrEnum):
    """What a request finds its session to be."""

    ACTIVE = "active"
    IDLE = "idle"
    ABSOLUTE = "absolute lifetime"
    #: Signed out from another browser (Security info) or by the helpdesk.
    ENDED = "ended"


class UnknownSession(VahvaError):
    status = 404
    default_message = _("That session is not one of yours, or it has already ended.")


@dataclass(frozen=True, kw_only=True)
class SessionRow:
    """One line of "Where you're signed in"."""

    id: int
    label: str
    ip: str | None
    signed_in_at: dt.datetime
    last_seen_at: dt.datetime
    this: bool
    services: tuple[str, ...]


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def digest_of(request: HttpRequest) -> str:
    """The SHA-256 of this request's session id ("" when not signed in): what a service's
    tokens are linked to."""
    session_id = request.session.get(SESSION_ID)
    return _digest(session_id) if isinstance(session_id, str) else ""


def _client_ip(request: HttpRequest) -> str | None:
    ip = getattr(request, "client_ip", None) or request.META.get("REMOTE_ADDR")
    return str(ip) if ip else None


def _delete(rows: Any) -> int:
    """One DELETE, without the transaction Django's delete() wraps it in: nothing refers to a
    session row and no signal listens, and one statement is atomic by itself."""
    return int(rows._raw_delete(rows.db))


#: How often a process forgets the rows of long-gone browsers (housekeeping, not security:
#: no such row is listed, checked or able to sign anyone in).
FORGET_EVERY = dt.timedelta(minutes=10)
_forgotten_at: list[dt.datetime] = []
_forgetting = threading.Lock()


def _forget_long_gone(*, now: dt.datetime) -> None:
    """Browsers closed without signing out leave rows behind. One that signed in twice the
    absolute lifetime ago has been signed out by any request since, or its session expired
    with its cookie: forgetting the row changes nothing for it. Everyone's such rows, at a
    sign-in at most once per :data:`FORGET_EVERY` per process (was: the person's own, at
    every sign-in: one DELETE each)."""
    with _forgetting:
        last = _forgotten_at[0] if _forgotten_at else None
        # Outside [last, last + FORGET_EVERY): a clock set back counts as due too.
        if last is not None and last <= now < last + FORGET_EVERY:
            return
        _forgotten_at[:] = [now]
    _delete(
        BrowserSession.objects.filter(
            signed_in_at__lt=now - 2 * dt.timedelta(seconds=settings.SESSION_MAX_AGE)
        )
    )


def started(request: HttpRequest, user: User, *, now: dt.datetime) -> BrowserSession:
    """A sign-in: a new session id and row, the start of the absolute lifetime."""
    previous = request.session.get(SESSION_ID)
    if isinstance(previous, str):
        _delete(BrowserSession.objects.filter(digest=_digest(previous)))
    _forget_long_gone(now=now)
    session_id = secrets.token_urlsafe(32)
    request.session[SESSION_ID] = session_id
    row = BrowserSession(
        digest=_digest(session_id),
        user=user,
        label=label_for(str(request.META.get("HTTP_USER_AGENT", "")))[:100],
        ip=_client_ip(request),
        signed_in_at=now,
        last_seen_at=now,
    )
    # The INSERT of objects.create(), written once (vahva.prepared): on every sign-in.
    prepared.insert(row, using=router.db_for_write(BrowserSession))
    return row


def check(request: HttpRequest, user: User, *, now: dt.datetime, activity: bool) -> Status:
    """Whether the signed-in session of ``request`` may go on; marks it seen if ``activity``.

    A poll from a waiting page is not activity (``activity=False``): a tab left open would
    otherwise keep its session alive forever.
    """
    session_id = request.session.get(SESSION_ID)
    if not isinstance(session_id, str):
        # Signed in before sessions were tracked: from now on it is, from now.
        started(request, user, now=now)
        return Status.ACTIVE
    row = BrowserSession.objects.filter(digest=_digest(session_id), user_id=user.pk).first()
    if row is None:
        # Ended elsewhere: a copied cookie is worth nothing from here on.
        return Status.ENDED
    if now - row.signed_in_at >= dt.timedelta(seconds=settings.SESSION_MAX_AGE):
        # Activity never extends the absolute lifetime: a stolen session dies with it.
        return Status.ABSOLUTE
    if now - row.last_seen_at >= dt.timedelta(seconds=settings.SESSION_IDLE_TIMEOUT):
        return Status.IDLE
    if activity and now - row.last_seen_at >= SEEN_EVERY:
        BrowserSession.objects.filter(pk=row.pk).update(last_seen_at=now, ip=_client_ip(request))
    return Status.ACTIVE


def expired(request: HttpRequest, user: User, *, status: Status) -> None:
    """Audit a session that ran out (the caller signs the browser out)."""
    record(
        "session.expired",
        subject=user,
        actor=user,
        request=request,
        reason=f"session expired: {status.value}",
    )


def _live(user: User, *, now: dt.datetime) -> Any:
    return BrowserSession.objects.filter(
        user_id=user.pk,
        last_seen_at__gt=now - dt.timedelta(seconds=settings.SESSION_IDLE_TIMEOUT),
        signed_in_at__gt=now - dt.timedelta(seconds=settings.SESSION_MAX_AGE),
    )


def _person(request: HttpRequest) -> User:
    """The signed-in person of ``request`` (Security info's pages are for them only)."""
    user = request.user
    if not isinstance(user, User):
        # Nobody signed in has sessions to list or end (a view forgot login_required).
        raise UnknownSession()
    return user


def listed_for(request: HttpRequest, *, now: dt.datetime) -> list[SessionRow]:
    """The person's live sessions, this browser's first, then the most recently seen."""
    rows = list(_live(_person(request), now=now).order_by("-last_seen_at", "-pk"))
    services: dict[str, set[str]] = {row.digest: set() for row in rows}
    for _receiver, answer in services_asked.send(sender=BrowserSession, digests=list(services)):
        found: dict[str, list[str]] = answer if isinstance(answer, dict) else {}
        for digest, names in found.items():
            services.setdefault(digest, set()).update(names)
    mine = digest_of(request)
    listed = [
        SessionRow(
            id=row.pk,
            label=shown_label(row.label),
            ip=row.ip,
            signed_in_at=row.signed_in_at,
            last_seen_at=row.last_seen_at,
            this=row.digest == mine,
            services=tuple(sorted(services[row.digest])),
        )
        for row in rows
    ]
    return sorted(listed, key=lambda row: not row.this)


def _end(user: User, rows: list[BrowserSession], *, reason: str, actor: Any, request: Any) -> int:
    digests = [row.digest for row in rows]
    # Deleted first: from here on the middleware signs those browsers out on any request.
    BrowserSession.objects.filter(pk__in=[row.pk for row in rows]).delete()
    for row in rows:
        record(
            "session.ended",
            subject=user,
            actor=actor,
            request=request,
            reason=reason,
            session=row.pk,
            browser=row.label,
            session_ip=row.ip,
        )
    if digests:
        session_ended.send(sender=BrowserSession, user=user, digests=digests, reason=reason)
    return len(rows)


def end(request: HttpRequest, session_id: object, *, now: dt.datetime) -> BrowserSession:
    """Sign one of the person's other browsers out (Security info's *Sign out*)."""
    try:
        pk = int(str(session_id))
    except ValueError:
        raise UnknownSession() from None
    # Another person's id, or this browser's own (it has the normal sign-out): nothing ended.
    user = _person(request)
    row: BrowserSession | None = (
        _live(user, now=now).filter(pk=pk).exclude(digest=digest_of(request)).first()
    )
    if row is None:
        raise UnknownSession()
    _end(user, [row], reason="signed out from another browser", actor=user, request=request)
    return row


def end_others(request: HttpRequest) -> int:
    """*Sign out everywhere else*: every session of the person but this browser's."""
    user = _person(request)
    rows = list(BrowserSession.objects.filter(user_id=user.pk).exclude(digest=digest_of(request)))
    return _end(user, rows, reason="signed out everywhere else", actor=user, request=request)


def end_everywhere(user: User, *, actor: Any, request: Any, reason: str) -> int:
    """Every session of the person, this one included (the helpdesk's *Sign out everywhere*).

    Besides the listed sessions, the person's session hash changes (a session no row
    describes ends too) and the rooms that keep their own sign-ins forget them (remembered
    browsers, every OIDC token of the person).
    """
    rows = list(BrowserSession.objects.filter(user_id=user.pk))
    count = _end(user, rows, reason=reason, actor=actor, request=request)
    user.sign_out_everywhere()
    return count


def _on_logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        started(request, user, now=clock.now())


def _on_logged_out(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    # The person's own sign-out (or an expiry): the row goes with the session.
    if request is not None and hasattr(request, "session"):
        digest = digest_of(request)
        if digest:
            BrowserSession.objects.filter(digest=digest).delete()


def connect() -> None:
    user_logged_in.connect(_on_logged_in, dispatch_uid="vahva.sessions.started")
    user_logged_out.connect(_on_logged_out, dispatch_uid="vahva.sessions.signed_out")
