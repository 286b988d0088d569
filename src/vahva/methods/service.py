"""The methods room's public functions, used by sign-in, registration and the helpdesk."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import router, transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from vahva import clock, prepared
from vahva.errors import AlreadyCompleted, ExpiredChallenge, MalformedInput, ReplayedCode
from vahva.web import memo

from . import registry
from .base import Role
from .models import PendingEnrolment, RegisteredMethod

if TYPE_CHECKING:
    from vahva.accounts.models import User


def parse_uuid(response: str) -> uuid.UUID:
    """A response that names an attempt, a test notification or a call by its id (a waiting
    method's); MalformedInput for anything else (never a 500 for a mangled form)."""
    text = (response or "").strip()
    if len(text) > 36:
        raise MalformedInput()
    try:
        return uuid.UUID(text)
    except ValueError:
        raise MalformedInput() from None


def _working(now: dt.datetime) -> Q:
    """Methods that have not stopped by themselves (an expired or used pass has)."""
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now)


def _listed_kinds() -> list[str]:
    return [m.kind for m in registry.all_methods() if m.role is not Role.STAND_IN]


def _fallback_kinds() -> list[str]:
    return [m.kind for m in registry.all_methods() if m.role is Role.FALLBACK]


def registered_for(user: User) -> list[RegisteredMethod]:
    """The person's working methods of kinds this deployment knows: an active temporary
    access pass first (the helpdesk gave it because the default, a lost phone, cannot be
    used), then the default, then the rest, and the fallbacks (recovery codes) last.

    Read once per request (vahva.web.memo): a sign-in asks for the list several times; any
    write to the methods in the request reads it again."""

    def load() -> list[RegisteredMethod]:
        known = {m.kind: m for m in registry.all_methods()}
        methods = [m for m in _working_of(user.pk, clock.now()) if m.kind in known]
        return sorted(
            methods,
            key=lambda m: (
                # A stand-in first, the fallbacks last.
                known[m.kind].role is not Role.STAND_IN,
                known[m.kind].role is Role.FALLBACK,
                not m.is_default,
                m.created_at,
                m.pk,
            ),
        )

    # A copy: a caller may reorder or filter its list.
    return list(memo.remembered(RegisteredMethod._meta.db_table, user.pk, load))


def _working_of(user_pk: object, now: dt.datetime) -> list[RegisteredMethod]:
    """``RegisteredMethod.objects.filter(_working(now), user=user)``, in its order, as the
    statement itself (:mod:`vahva.prepared`: the ORM built it afresh on every read)."""
    using = router.db_for_read(RegisteredMethod)
    sql = prepared.statement("methods.working_of", _working_sql, using=using)
    # Real instances (secrets decrypted, data parsed), as the ORM's.
    return prepared.instances(RegisteredMethod, sql, [now, user_pk], using=using)


def _working_sql(quote: Callable[[str], str]) -> str:
    table = prepared.table(RegisteredMethod, quote)
    expires, user, created, pk = (
        f"{table}.{quote(prepared.column(RegisteredMethod, name))}"
        for name in ("expires_at", "user", "created_at", "id")
    )
    # Names from the model, quoted and qualified as the ORM writes them; the time and the
    # person are parameters. The order is the model's (Meta.ordering), as the ORM's query had.
    return (
        f"SELECT {prepared.columns(RegisteredMethod, quote, table + '.')} "  # noqa: S608
        f"FROM {table} "
        f"WHERE ({expires} IS NULL OR {expires} > %s) AND {user} = %s "
        f"ORDER BY {created} ASC, {pk} ASC"
    )


def listed_for(user: User) -> list[RegisteredMethod]:
    """The methods Security info shows (no temporary access pass), default first."""
    return [m for m in registered_for(user) if registry.get(m.kind).role is not Role.STAND_IN]


def has_methods(user: User) -> bool:
    """Whether the person has registered a real method (a temporary access pass is not one:
    the policy still sends them to register, and does not start the activation delay).

    From :func:`registered_for`'s list (read once per request): its working methods of known
    kinds are exactly the ones asked about here, less the stand-ins."""
    return any(registry.get(m.kind).role is not Role.STAND_IN for m in registered_for(user))


def on_device(user: User, device_id: object) -> list[RegisteredMethod]:
    """The person's methods answered by the vahva app device ``device_id``."""
    wanted = str(device_id)
    return [m for m in registered_for(user) if registry.get(m.kind).device_of(m) == wanted]


def has_stand_in(user: User) -> bool:
    """Whether the person has a working method that is not one they registered themselves (a
    temporary access pass from the helpdesk): it signs them in to register a real one."""
    now = clock.now()
    stand_ins = {m.kind: m for m in registry.all_methods() if m.role is Role.STAND_IN}
    found = RegisteredMethod.objects.filter(_working(now), user=user, kind__in=list(stand_ins))
    return any(stand_ins[m.kind].working(m, now=now) for m in found)


def has_phishing_resistant(user: User) -> bool:
    """Whether the person has a method a look-alike site cannot relay (a security key or
    passkey), for services that accept nothing else."""
    kinds = [m.kind for m in registry.all_methods() if m.phishing_resistant]
    return RegisteredMethod.objects.filter(
        _working(clock.now()), user=user, kind__in=kinds
    ).exists()


def first_registered_at(user: User) -> dt.datetime | None:
    """When the person's first listed method of a kind this deployment knows was registered.

    From :func:`registered_for`'s list (read once per request), as :func:`has_methods`."""
    return min((m.created_at for m in listed_for(user)), default=None)


def get_for(user: User | int, method_id: object) -> RegisteredMethod:
    """The person's (or the person with this id's) own method with this id; MalformedInput for
    anything else.

    Looking up by (user, id) stops one person naming another person's method.
    """
    unknown = MalformedInput(_("That sign-in method was not found. Choose one of your own."))
    try:
        pk = int(str(method_id))
    except ValueError:
        raise unknown from None
    method = RegisteredMethod.objects.filter(user=user, pk=pk).first()
    if method is None:
        raise unknown
    return method


def save_new(
    user: User,
    kind: str,
    *,
    now: dt.datetime,
    secret: str = "",
    counter: int = -1,
    name: str = "",
    data: dict[str, Any] | None = None,
) -> RegisteredMethod:
    """Save a freshly verified method; the first one becomes the default (a fallback such
    as recovery codes never does: the sign-in would lead with it)."""
    with transaction.atomic():
        first = (
            kind not in _fallback_kinds()
            and not RegisteredMethod.objects.filter(user=user, is_default=True).exists()
        )
        return RegisteredMethod.objects.create(
            user=user,
            kind=kind,
            name=name[:100],
            secret=secret,
            counter=counter,
            data=data or {},
            created_at=now,
            is_default=first,
        )


def set_default(user: User, method_id: object) -> RegisteredMethod:
    method = get_for(user, method_id)
    if method.kind not in _listed_kinds() or method.kind in _fallback_kinds():
        # A temporary access pass stops working by itself, and recovery codes are for when
        # the usual method cannot be used: neither is ever the default.
        raise MalformedInput(_("That sign-in method was not found. Choose one of your own."))
    with transaction.atomic():
        RegisteredMethod.objects.filter(user=user, is_default=True).update(is_default=False)
        RegisteredMethod.objects.filter(pk=method.pk).update(is_default=True)
    method.is_default = True
    return method


def remove(user: User, method_id: object) -> RegisteredMethod:
    """Delete one of the person's methods; if it was the default, the oldest one takes over."""
    method = get_for(user, method_id)
    with transaction.atomic():
        method.delete()
        # A removed app's device must stop answering too (a lost phone keeps its key).
        registry.get(method.kind).removed(method, now=clock.now())
        # The oldest real method takes over, never a temporary access pass or recovery codes.
        rest = (
            RegisteredMethod.objects.filter(user=user, kind__in=_listed_kinds())
            .exclude(kind__in=_fallback_kinds())
            .order_by("created_at", "pk")
        )
        if method.is_default and rest.exists():
            rest.filter(pk=rest[0].pk).update(is_default=True)
    return method


def hand_over(old: RegisteredMethod, new: RegisteredMethod, *, now: dt.datetime) -> bool:
    """Delete ``old`` in favour of ``new`` (a phone's changed number): ``new`` takes over its
    default flag. Call it in the transaction that saved ``new``; False if ``old`` was gone."""
    with transaction.atomic():
        # Locked: a parallel "make default" or removal of the old one waits for this change.
        locked = (
            RegisteredMethod.objects.select_for_update()
            .filter(user_id=new.user_id, pk=old.pk)
            .first()
        )
        if locked is None:
            return False
        locked.delete()
        registry.get(locked.kind).removed(locked, now=now)
        if locked.is_default:
            # After the delete: the database allows one default per person.
            RegisteredMethod.objects.filter(pk=new.pk).update(is_default=True)
            new.is_default = True
    return True


def advance_counter(registered: RegisteredMethod, value: int, *, now: dt.datetime) -> None:
    """Record ``value`` as used, only if it is newer than the last one accepted.

    A conditional UPDATE, not read-then-write: of two parallel requests carrying the same
    TOTP step only one can move the counter, the other gets ReplayedCode. The ORM's
    ``filter(pk=..., counter__lt=value).update(counter=value, last_used_at=now)``, written
    once (:mod:`vahva.prepared`).
    """
    using = router.db_for_write(RegisteredMethod)
    sql = prepared.statement("methods.advance_counter", _advance_sql, using=using)
    # WHERE counter < value: a replayed step (or a parallel request with the same one) moves
    # nothing and is refused.
    # prepared.execute stores the datetime as the ORM does (prepared.adapt).
    moved = prepared.execute(sql, [value, now, registered.pk, value], using=using)
    if not moved:
        raise ReplayedCode()
    registered.counter = value
    registered.last_used_at = now


def _advance_sql(quote: Callable[[str], str]) -> str:
    table = prepared.table(RegisteredMethod, quote)
    counter, last_used, pk = (
        quote(prepared.column(RegisteredMethod, name)) for name in ("counter", "last_used_at", "id")
    )
    # Names from the model, quoted and qualified as the ORM writes them; every value a parameter.
    return (
        f"UPDATE {table} SET {counter} = %s, {last_used} = %s "  # noqa: S608
        f"WHERE ({table}.{pk} = %s AND {table}.{counter} < %s)"
    )


def touch(registered: RegisteredMethod, *, now: dt.datetime) -> None:
    RegisteredMethod.objects.filter(pk=registered.pk).update(last_used_at=now)
    registered.last_used_at = now


def new_pending(
    user: User,
    kind: str,
    *,
    now: dt.datetime,
    ttl: int,
    secret: str = "",
    data: dict[str, Any] | None = None,
) -> PendingEnrolment:
    return PendingEnrolment.objects.create(
        user=user,
        kind=kind,
        secret=secret,
        data=data or {},
        created_at=now,
        expires_at=now + dt.timedelta(seconds=ttl),
    )


def get_pending(user: User, pending_id: object) -> PendingEnrolment:
    """The person's own pending enrolment; ExpiredChallenge when gone, used or stale."""
    try:
        pk = uuid.UUID(str(pending_id))
    except ValueError:
        raise ExpiredChallenge() from None
    pending = PendingEnrolment.objects.filter(user=user, pk=pk).first()
    if pending is None:
        raise ExpiredChallenge()
    if pending.consumed:
        raise AlreadyCompleted()
    return pending


def consume_pending(pending: PendingEnrolment, *, now: dt.datetime) -> None:
    """Mark the enrolment used, exactly once (conditional UPDATE, see advance_counter)."""
    if pending.expires_at <= now:
        raise ExpiredChallenge()
    taken = PendingEnrolment.objects.filter(
        pk=pending.pk, consumed=False, expires_at__gt=now
    ).update(consumed=True)
    if not taken:
        # A double-submitted form or a second tab got there first.
        raise AlreadyCompleted()
    pending.consumed = True


# --- replacing a method (a change of number) --------------------------------------------------

#: The key in a pending enrolment's data naming the method it replaces.
REPLACES = "replaces"


def _family(kind: str) -> str:
    """Methods that replace one another: those of one wizard step (a phone by text or call)."""
    method = registry.get(kind)
    return method.wizard.slug if method.replaceable and method.wizard is not None else ""


def replaceable_of(user: User, method_id: object, *, by: str) -> RegisteredMethod:
    """The person's own method with this id, which an enrolment of ``by`` may replace;
    MalformedInput for anything else (looked up by (user, id): an id from the browser never
    reaches another person's method)."""
    registered = get_for(user, method_id)
    family = _family(registered.kind)
    if not family or family != _family(by):
        raise MalformedInput(_("That sign-in method cannot be changed this way."))
    return registered


def mark_replacing(pending: PendingEnrolment, registered: RegisteredMethod) -> PendingEnrolment:
    """Make ``pending`` a change (of number): when it is proved, it replaces ``registered``."""
    old = replaceable_of(pending.user, registered.pk, by=pending.kind)
    pending.data = {**pending.data, REPLACES: old.pk}
    pending.save(update_fields=["data"])
    return pending


def replaced_by(pending: PendingEnrolment) -> RegisteredMethod | None:
    """The method this enrolment replaces, if it is a change (and that method is still
    there)."""
    old_id = pending.data.get(REPLACES)
    if old_id is None:
        return None
    try:
        return replaceable_of(pending.user, old_id, by=pending.kind)
    except MalformedInput:
        return None
