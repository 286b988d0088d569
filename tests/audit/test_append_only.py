"""The audit log is append-only: the application and the database both refuse rewrites."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from vahva.audit.log import record
from vahva.audit.models import AppendOnlyError, AuditEvent

pytestmark = pytest.mark.django_db


def test_rows_cannot_be_changed_or_deleted_through_the_orm(alice: Any) -> None:
    event = record("signin.success", subject=alice, reason="test")
    event.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).reason == "test"


def test_database_refuses_rewrites_even_in_raw_sql(alice: Any) -> None:
    event = record("signin.success", subject=alice, reason="test")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_auditevent SET reason = 'x' WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).reason == "test"


def test_deleting_a_person_keeps_their_trail(alice: Any) -> None:
    record("signin.success", subject=alice, actor=alice)
    alice.delete()
    event = AuditEvent.objects.get()
    assert event.subject_id is None
    assert event.subject_email == "alice@example.org"


def test_event_records_address_and_agent(alice: Any, rf: Any) -> None:
    request = rf.get("/", REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT="Browser/1.0")
    event = record("signin.success", subject=alice, request=request)
    assert (event.ip, event.user_agent) == ("198.51.100.4", "Browser/1.0")
