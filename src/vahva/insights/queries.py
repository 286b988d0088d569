"""What the sign-in log and the adoption page show, read from the audit log and the methods.

Plain functions over the ORM that take the filter values and the time; the views only parse
the query string, call these and render.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from vahva.audit import sentences
from vahva.audit.models import AuditEvent
from vahva.methods import registry
from vahva.methods.models import RegisteredMethod

#: The audit actions of signing in, with the name of each in the log's action filter (the
#: app's denials and reports, and the texts' and calls' limits and reports, included).
ACTIONS: dict[str, str | Promise] = sentences.SIGNIN_ACTIONS

OUTCOMES: dict[str, str | Promise] = {"ok": _("Succeeded"), "failure": _("Failed")}

PAGE_SIZE = 50
#: The adoption page's sign-ins per day cover this many days, today included.
ADOPTION_DAYS = 30


# --- the sign-in log -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SignInFilter:
    """The log's filters; empty values filter nothing. Dates are local calendar days."""

    person: str = ""
    outcome: str = ""
    action: str = ""
    service: str = ""
    reason: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@dataclass(frozen=True)
class SignInRow:
    """One attempt's event as the log shows it."""

    event: AuditEvent
    label: str
    #: Why, in a sentence a helpdesk agent understands (the recorded reason when unknown).
    why: str
    person: str
    method: str
    service: str


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(
        dt.datetime.combine(day, dt.time.min), timezone.get_current_timezone()
    )


def signins(filters: SignInFilter) -> QuerySet[AuditEvent]:
    """The sign-in events that match ``filters``, newest first."""
    events = AuditEvent.objects.filter(action__in=list(ACTIONS))
    if filters.person:
        # A wrong password for an unknown address has no subject: the typed address is data.
        events = events.filter(
            Q(subject_email__icontains=filters.person) | Q(data__email__icontains=filters.person)
        )
    if filters.outcome:
        events = events.filter(outcome=filters.outcome)
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.service:
        events = events.filter(data__service__icontains=filters.service)
    if filters.reason:
        events = events.filter(reason__icontains=filters.reason)
    if filters.date_from is not None:
        events = events.filter(at__gte=_local_midnight(filters.date_from))
    if filters.date_to is not None:
        # The "to" day is included: everything before the next day's midnight.
        events = events.filter(at__lt=_local_midnight(filters.date_to + dt.timedelta(days=1)))
    return events.order_by("-at", "-id")


def _method_label(kind: Any) -> str:
    if not kind:
        return ""
    try:
        return str(registry.get(str(kind)).label)
    except KeyError:
        return str(kind)


def describe(event: AuditEvent) -> SignInRow:
    """The row for ``event``: what happened and why in words, who, which method, for what."""
    data = event.data if isinstance(event.data, dict) else {}
    words = sentences.describe(
        action=event.action, outcome=event.outcome, reason=event.reason, data=data
    )
    method = _method_label(data.get("method"))
    if event.action in ("signin.success", "radius.accept") and not data.get("method"):
        method = str(_("Password only"))
    return SignInRow(
        event=event,
        label=words.label,
        why=words.why,
        person=event.subject_email or str(data.get("email") or ""),
        method=method,
        service=str(data.get("service") or ""),
    )


def export_rows(events: QuerySet[AuditEvent]) -> Iterator[list[Any]]:
    """The CSV rows of ``events``, read in chunks (an export may cover the whole log)."""
    current = timezone.get_current_timezone()
    for event in events.iterator(chunk_size=2000):
        row = describe(event)
        yield [
            event.at.astimezone(current).isoformat(timespec="seconds"),
            row.person,
            row.label,
            event.outcome,
            row.method,
            row.service,
            event.ip or "",
            event.reason,
            event.user_agent,
        ]


EXPORT_HEADER = (
    "time",
    "person",
    "event",
    "outcome",
    "method",
    "service",
    "address",
    "reason",
    "user agent",
)


# --- adoption ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodCount:
    kind: str
    label: str
    people: int


@dataclass(frozen=True)
class DayCount:
    day: dt.date
    with_mfa: int
    password_only: int


@dataclass(frozen=True)
class Adoption:
    people: int
    with_method: int
    methods: list[MethodCount]
    days: list[DayCount]

    @property
    def percent_with_method(self) -> int:
        return round(100 * self.with_method / self.people) if self.people else 0

    def chart_data(self) -> dict[str, Any]:
        """What charts.js draws, for ``json_script`` (the tables show the same figures)."""
        return {
            "methods": {
                "labels": [m.label for m in self.methods],
                "people": [m.people for m in self.methods],
                "title": str(_("People")),
            },
            "days": {
                "labels": [d.day.isoformat() for d in self.days],
                "with_mfa": [d.with_mfa for d in self.days],
                "password_only": [d.password_only for d in self.days],
                "with_mfa_title": str(_("With a second factor")),
                "password_only_title": str(_("Password only")),
            },
        }


def counted_kinds() -> list[str]:
    """The method kinds adoption counts: loaded ones that are listed (a temporary access pass
    is not a method a person has adopted)."""
    return [m.kind for m in registry.all_methods() if m.listed]


def adoption(*, now: dt.datetime, days: int = ADOPTION_DAYS) -> Adoption:
    """Active people, who has registered which methods, and sign-ins per day up to ``now``."""
    kinds = counted_kinds()
    active = RegisteredMethod.objects.filter(user__is_active=True, kind__in=kinds)
    per_kind = {
        row["kind"]: row["people"]
        for row in active.values("kind").annotate(people=Count("user", distinct=True))
    }
    methods = [
        MethodCount(kind, _method_label(kind), per_kind[kind]) for kind in kinds if kind in per_kind
    ]
    return Adoption(
        people=get_user_model().objects.filter(is_active=True).count(),
        with_method=active.values("user").distinct().count(),
        methods=methods,
        days=signins_per_day(now=now, days=days),
    )


def signins_per_day(*, now: dt.datetime, days: int = ADOPTION_DAYS) -> list[DayCount]:
    """Successful sign-ins per local day, the last ``days`` days, split by second factor.

    Grouped in the database with TruncDate (in the current time zone), which Django
    implements for both SQLite and PostgreSQL; days without sign-ins are filled with zeros.
    """
    today = timezone.localtime(now).date()
    first = today - dt.timedelta(days=days - 1)
    password_only = Q(data__method="") | ~Q(data__has_key="method")
    counts = {
        row["day"]: row
        for row in AuditEvent.objects.filter(
            action="signin.success",
            at__gte=_local_midnight(first),
            at__lt=_local_midnight(today + dt.timedelta(days=1)),
        )
        .annotate(day=TruncDate("at"))
        .values("day")
        .annotate(total=Count("id"), password_only=Count("id", filter=password_only))
        .order_by("day")
    }
    result = []
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        row = counts.get(day)
        total = row["total"] if row else 0
        plain = row["password_only"] if row else 0
        result.append(DayCount(day, with_mfa=total - plain, password_only=plain))
    return result
