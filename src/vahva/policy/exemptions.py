"""Exemptions (opt-outs from the second factor): granted by the helpdesk for a ticket, with a
reason and an end date, revocable; every change audited. The sign-in engine asks
:func:`active_for` and puts the answer in the policy's context."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import router
from django.utils.translation import gettext_lazy as _

from vahva import prepared
from vahva.audit.log import record
from vahva.conf import settings
from vahva.errors import MalformedInput

from .models import Exemption

if TYPE_CHECKING:
    from vahva.accounts.models import User


def _required(value: str, what: Any) -> str:
    text = (value or "").strip()
    if not text:
        raise MalformedInput(what)
    return text


def grant(
    user: User,
    *,
    ticket: str,
    reason: str,
    expires_at: dt.datetime,
    now: dt.datetime,
    actor: Any = None,
    request: Any = None,
) -> Exemption:
    """Exempt ``user`` from MFA until ``expires_at``; MalformedInput (nothing saved) without a
    ticket, a reason, or an end date in the next EXEMPTION_MAX_DAYS days."""
    # An opt-out nobody can trace back: without a ticket and a reason, none is granted.
    ticket = _required(ticket, _("An exemption needs the helpdesk ticket number."))[:64]
    reason = _required(reason, _("An exemption needs a reason."))[:300]
    if expires_at.tzinfo is None:
        raise MalformedInput(_("Give the exemption's end date."))
    if expires_at <= now:
        raise MalformedInput(_("The exemption's end date must be in the future."))
    # A forgotten permanent opt-out: exemptions always end, at most this far ahead.
    if expires_at > now + dt.timedelta(days=settings.EXEMPTION_MAX_DAYS):
        raise MalformedInput(
            _("An exemption may last at most %(days)s days.")
            % {"days": settings.EXEMPTION_MAX_DAYS}
        )
    exemption = Exemption.objects.create(
        user=user,
        ticket=ticket,
        reason=reason,
        created_at=now,
        expires_at=expires_at,
        granted_by=actor if getattr(actor, "pk", None) else None,
    )
    record(
        "exemption.granted",
        subject=user,
        actor=actor,
        request=request,
        reason=reason,
        ticket=ticket,
        exemption=exemption.pk,
        expires_at=expires_at.isoformat(),
    )
    return exemption


def active_for(user: User, *, now: dt.datetime) -> Exemption | None:
    """The person's exemption in force now (the one lasting longest), or None.

    Asked by the door on every sign-in and refresh grant: its statement is written once
    (:mod:`vahva.prepared`), not built by the ORM each time."""
    using = router.db_for_read(Exemption)
    sql = prepared.statement("exemption.active_for", _active_for, using=using)
    found = prepared.instances(Exemption, sql, [getattr(user, "pk", user), now], using=using)
    return found[0] if found else None


def _active_for(quote: Callable[[str], str]) -> str:
    user, revoked, expires = (
        quote(prepared.column(Exemption, name)) for name in ("user", "revoked_at", "expires_at")
    )
    # Names from the model, quoted; the person and the time are parameters.
    return (
        f"SELECT {prepared.columns(Exemption, quote)} "  # noqa: S608
        f"FROM {prepared.table(Exemption, quote)} WHERE {user} = %s "
        f"AND {revoked} IS NULL AND {expires} > %s ORDER BY {expires} DESC LIMIT 1"
    )


def of(user: User) -> list[Exemption]:
    """All of the person's exemptions, newest first (for the helpdesk)."""
    return list(Exemption.objects.filter(user_id=getattr(user, "pk", user)))


def revoke(
    user: User,
    exemption_id: object,
    *,
    ticket: str,
    now: dt.datetime,
    actor: Any = None,
    request: Any = None,
) -> Exemption:
    """End the person's exemption now; MalformedInput for another person's or an unknown one."""
    ticket = _required(ticket, _("Give the helpdesk ticket number."))[:64]
    try:
        pk = int(str(exemption_id))
    except ValueError:
        raise MalformedInput(_("That exemption was not found.")) from None
    exemption = Exemption.objects.filter(user_id=getattr(user, "pk", user), pk=pk).first()
    if exemption is None:
        raise MalformedInput(_("That exemption was not found."))
    Exemption.objects.filter(pk=pk, revoked_at__isnull=True).update(revoked_at=now)
    exemption.revoked_at = exemption.revoked_at or now
    record(
        "exemption.revoked",
        subject=user,
        actor=actor,
        request=request,
        ticket=ticket,
        exemption=exemption.pk,
    )
    return exemption
