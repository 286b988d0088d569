"""People who may and may not read the helpdesk pages, and sign-in events to read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.helpers import force_mfa_login
from vahva.audit.models import AuditEvent


@pytest.fixture
def helpdesk_user(make_user: Any) -> Any:
    agent = make_user("agent@example.org", full_name="Hanna Helpdesk", is_staff=True)
    agent.user_permissions.add(
        Permission.objects.get(content_type__app_label="helpdesk", codename="access")
    )
    return agent


@pytest.fixture
def helpdesk_client(client: Client, helpdesk_user: Any) -> Client:
    force_mfa_login(client, helpdesk_user)
    return client


@pytest.fixture
def event(clock: Any) -> Callable[..., AuditEvent]:
    """Add an audit row as the sign-in engine would (``ago``: seconds before the clock)."""

    def add(
        action: str,
        *,
        outcome: str = "ok",
        subject_email: str = "alice@example.org",
        subject: Any = None,
        reason: str = "",
        ip: str | None = "198.51.100.7",
        ago: float = 0,
        at: dt.datetime | None = None,
        **data: Any,
    ) -> AuditEvent:
        return AuditEvent.objects.create(
            at=at or clock() - dt.timedelta(seconds=ago),
            action=action,
            outcome=outcome,
            subject=subject,
            subject_email=subject_email,
            ip=ip,
            user_agent="Firefox",
            reason=reason,
            data=data,
        )

    return add
