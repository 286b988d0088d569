"""Temporary access passes: what the helpdesk gives a person who lost their phone.

A pass is 12 characters of Crockford's base32 (no I, L, O or U), about 60 random bits, shown
once in groups of four (``K7QM-3XRD-PW9T``) so it can be read out on the phone. Only a salted
HMAC-SHA-256 of it is kept (in ``data``, never in ``secret``). A one-time pass is consumed
with a conditional UPDATE; a time-boxed one works until ``expires_at``. Either way the pass
stops by itself: the person signs in with password + pass, registers a new phone and removes
the old one. A person has at most one pass; issuing another replaces it.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import dateformat, timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from vahva import clock
from vahva.audit.log import record
from vahva.audit.tickets import clean_ticket
from vahva.conf import settings
from vahva.errors import ExpiredChallenge, InvalidCode, MalformedInput

from .base import Answer, AttemptRef, Method, Role
from .challenges import TypeCode
from .models import PendingEnrolment, RegisteredMethod

if TYPE_CHECKING:
    from vahva.accounts.models import User

KIND = "tap"
#: Crockford's base32: digits and capitals without I, L, O and U (read aloud without doubt).
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12
GROUP = 4
#: What a person may type for a character that is not in the alphabet (Crockford's decoding).
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-_.\u2010-\u2015]+")
#: Longer input is refused before any work is done on it.
_MAX_INPUT = 64
#: Seconds: someone has to read the pass out and type it.
MIN_LIFETIME = 60

EXPIRED = _(
    "This temporary access pass has expired or was already used. Ask the helpdesk for a new one."
)
WRONG = _("That temporary access pass is not right. Check it and try again.")
SHAPE = _("A temporary access pass has 12 letters and digits, for example K7QM-3XRD-PW9T.")


def generate() -> str:
    """A new pass, ungrouped: LENGTH characters from :mod:`secrets` (60 bits)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def grouped(code: str) -> str:
    """``K7QM3XRDPW9T`` → ``K7QM-3XRD-PW9T``, for reading out and typing."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def normalise(raw: str) -> str:
    """The pass as typed, with or without dashes or spaces, in any case; MalformedInput
    (not counted as a guess) for anything that cannot be a pass."""
    text = raw or ""
    if len(text) > _MAX_INPUT:
        raise MalformedInput(SHAPE)
    code = _SEPARATORS.sub("", text).upper().translate(_LOOKALIKES)
    if not code:
        raise MalformedInput(_("Enter the temporary access pass."))
    if len(code) != LENGTH or any(c not in ALPHABET for c in code):
        raise MalformedInput(SHAPE)
    return code


def digest(code: str, salt: str) -> str:
    # Keyed with the deployment's secret key and salted per pass: a copy of the database alone
    # does not let anyone test guesses offline, and equal passes do not look equal.
    return salted_hmac(f"vahva.methods.tap.{salt}", code, algorithm="sha256").hexdigest()


def _duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        days = seconds // 86400
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    minutes = max(1, seconds // 60)
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def _lifetime(lifetime: int | None) -> int:
    seconds = settings.TAP_LIFETIME if lifetime is None else lifetime
    limit = int(settings.TAP_MAX_LIFETIME)
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int)
        or not MIN_LIFETIME <= seconds <= limit
    ):
        # A pass that never ends would be a second password nobody chose.
        raise MalformedInput(
            _("A temporary access pass is valid for at least 1 minute and at most %(limit)s.")
            % {"limit": _duration(limit)}
        )
    return seconds


def _is_active(registered: RegisteredMethod, now: dt.datetime) -> bool:
    # counter = uses left (-1: as many as wanted until it expires); expires_at = None never
    # happens for a pass, and is treated as expired (fail closed).
    return (
        registered.kind == KIND
        and registered.expires_at is not None
        and registered.expires_at > now
        and registered.counter != 0
    )


def issue(
    user: User,
    *,
    now: dt.datetime,
    ticket: str,
    actor: Any = None,
    lifetime: int | None = None,
    one_time: bool = True,
    request: Any = None,
) -> tuple[RegisteredMethod, str]:
    """Create the person's pass (replacing any earlier one); returns (method, the pass in
    clear text — shown once, never stored). ``lifetime`` in seconds, default
    TAP_LIFETIME, at most TAP_MAX_LIFETIME (MalformedInput otherwise); blank ticket →
    MalformedInput. Records audit "tap.issued" (subject=user, actor, ticket, expires_at,
    one_time)."""
    ticket = clean_ticket(ticket)
    seconds = _lifetime(lifetime)
    if not user.is_active:
        raise MalformedInput(
            _("This account is disabled: a temporary access pass would not let anyone sign in.")
        )
    code = generate()
    salt = secrets.token_hex(16)
    expires_at = now + dt.timedelta(seconds=seconds)
    with transaction.atomic():
        # Two helpdesk agents issuing at once: the person's row is locked, so exactly one
        # pass survives (the later one) instead of two that both work.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        replaced = RegisteredMethod.objects.filter(user=user, kind=KIND).delete()[0]
        registered = RegisteredMethod.objects.create(
            user=user,
            kind=KIND,
            # Never the default: when it stops, the person's own default is still theirs.
            is_default=False,
            created_at=now,
            expires_at=expires_at,
            counter=1 if one_time else -1,
            data={
                "salt": salt,
                "digest": digest(code, salt),
                "one_time": bool(one_time),
                "ticket": ticket,
                "issued_by": getattr(actor, "pk", None),
            },
        )
        record(
            "tap.issued",
            subject=user,
            actor=actor,
            request=request,
            reason=f"ticket {ticket}",
            ticket=ticket,
            expires_at=expires_at.isoformat(),
            one_time=bool(one_time),
            replaced=bool(replaced),
            method_id=registered.pk,
        )
    return registered, grouped(code)


def active_pass(user: User, *, now: dt.datetime) -> RegisteredMethod | None:
    """The person's pass if it still works (not expired, not used up), else None."""
    found = RegisteredMethod.objects.filter(user=user, kind=KIND, expires_at__gt=now).first()
    return found if found is not None and _is_active(found, now) else None


def revoke(user: User, *, ticket: str, actor: Any = None, request: Any = None) -> bool:
    """Delete the person's pass; audit "tap.revoked"; False if there was none (a used or
    expired pass is deleted too, but there was nothing left to revoke)."""
    ticket = clean_ticket(ticket)
    with transaction.atomic():
        passes = list(RegisteredMethod.objects.select_for_update().filter(user=user, kind=KIND))
        working = any(_is_active(p, clock.now()) for p in passes)
        if passes:
            RegisteredMethod.objects.filter(pk__in=[p.pk for p in passes]).delete()
        if not working:
            return False
        record(
            "tap.revoked",
            subject=user,
            actor=actor,
            request=request,
            reason=f"ticket {ticket}",
            ticket=ticket,
        )
    return True


def valid_until_text(registered: RegisteredMethod) -> str:
    when = registered.expires_at
    return dateformat.format(timezone.localtime(when), "j.n.Y H:i") if when else ""


class TemporaryPassMethod(Method):
    kind = KIND
    label = _("Temporary access pass")
    description = _("A pass from the helpdesk, for signing in once after losing your phone.")
    prompt = _("Enter the temporary access pass the helpdesk gave you")
    # RFC 8176 has no value for a helpdesk-issued pass; it is a one-time (or short-lived)
    # password the person did not choose, and "otp" is what services expect for that.
    amr = ("otp",)
    answer = Answer.LETTERS
    role = Role.STAND_IN

    def working(self, registered: RegisteredMethod, *, now: dt.datetime) -> bool:
        return _is_active(registered, now)

    def describe(self, registered: RegisteredMethod) -> str:
        until = valid_until_text(registered)
        if not _is_active(registered, clock.now()):
            return gettext("Temporary access pass (used or expired)")
        if registered.data.get("one_time"):
            return gettext("Temporary access pass (one use, valid until %(time)s)") % {
                "time": until
            }
        return gettext("Temporary access pass (valid until %(time)s)") % {"time": until}

    def begin(
        self, registered: RegisteredMethod, *, now: dt.datetime, attempt: AttemptRef | None = None
    ) -> TypeCode:
        if not _is_active(registered, now):
            # The page of a used or expired pass (from history, a second tab) says so at once.
            raise ExpiredChallenge(EXPIRED)
        return TypeCode(letters=True)

    def verify(self, registered: RegisteredMethod, response: str, *, now: dt.datetime) -> None:
        code = normalise(response)
        if not _is_active(registered, now):
            # Expired or used: refused whatever was typed, so a dead pass answers no guesses.
            raise ExpiredChallenge(EXPIRED)
        salt = str(registered.data.get("salt", ""))
        stored = str(registered.data.get("digest", ""))
        # Timing attack: compare_digest takes as long for a near miss as for a far one.
        if not salt or not hmac.compare_digest(stored, digest(code, salt)):
            raise InvalidCode(WRONG)
        alive = RegisteredMethod.objects.filter(pk=registered.pk, kind=KIND, expires_at__gt=now)
        if registered.counter > 0:
            # One-time: a conditional UPDATE, so of two parallel submits (or someone who
            # overheard the pass racing its owner) exactly one signs in; the pass then ends.
            used = alive.filter(counter__gt=0).update(counter=0, last_used_at=now, expires_at=now)
        else:
            # Time-boxed: revoked or replaced meanwhile means refused, even with the right pass.
            used = alive.update(last_used_at=now)
        if not used:
            raise ExpiredChallenge(EXPIRED)
        registered.last_used_at = now
        if registered.counter > 0:
            registered.counter = 0
            registered.expires_at = now

    # --- the helpdesk issues it (helpdesk names no method: these hooks) -----------------------

    def issues_passes(self) -> bool:
        return True

    def issue_pass(
        self,
        user: User,
        *,
        now: dt.datetime,
        ticket: str,
        actor: Any,
        lifetime: int,
        one_time: bool,
        request: Any,
    ) -> tuple[RegisteredMethod, str]:
        return issue(
            user,
            now=now,
            ticket=ticket,
            actor=actor,
            lifetime=lifetime,
            one_time=one_time,
            request=request,
        )

    def active_pass(self, user: User, *, now: dt.datetime) -> RegisteredMethod | None:
        return active_pass(user, now=now)

    def revoke_pass(self, user: User, *, ticket: str, actor: Any, request: Any) -> bool:
        return revoke(user, ticket=ticket, actor=actor, request=request)

    def start_enrolment(self, user: User, *, now: dt.datetime) -> PendingEnrolment:
        # Only the helpdesk issues passes (issue()); a person cannot add one.
        raise MalformedInput(_("A temporary access pass is issued by the helpdesk."))

    def finish_enrolment(
        self, pending: PendingEnrolment, response: str, *, now: dt.datetime, name: str = ""
    ) -> RegisteredMethod:
        raise MalformedInput(_("A temporary access pass is issued by the helpdesk."))
