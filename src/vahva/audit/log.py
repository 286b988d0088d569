"""Write audit events. Everything may call this; it calls no other vahva room."""

from __future__ import annotations

from typing import Any, Protocol

from django.db import router

from vahva import clock, prepared

from .models import AuditEvent


class _Request(Protocol):
    META: dict[str, Any]


def record(
    action: str,
    *,
    subject: Any = None,
    actor: Any = None,
    request: _Request | None = None,
    outcome: str = "ok",
    reason: str = "",
    **data: Any,
) -> AuditEvent:
    """Append one event. ``request`` supplies the client address and user agent."""
    ip = None
    agent = ""
    if request is not None:
        # The address the web room resolved (trusted proxies only), else the socket's.
        ip = getattr(request, "client_ip", None) or request.META.get("REMOTE_ADDR")
        agent = str(request.META.get("HTTP_USER_AGENT", ""))[:300]
    event = AuditEvent(
        at=clock.now(),
        action=action,
        outcome=outcome,
        actor_id=getattr(actor, "pk", None),
        subject_id=getattr(subject, "pk", None),
        subject_email=getattr(subject, "email", "") or "",
        ip=ip,
        user_agent=agent,
        reason=reason[:300],
        data=data,
    )
    # The same INSERT as AuditEvent.objects.create() (and its post_save for the metrics),
    # written once per process instead of built by the ORM on every row (vahva.prepared).
    prepared.insert(event, using=router.db_for_write(AuditEvent))
    return event


def recent_for(person: Any, *, actions: tuple[str, ...], limit: int = 10) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(subject_id=person.pk, action__in=actions).order_by("-at", "-id")[
            :limit
        ]
    )
