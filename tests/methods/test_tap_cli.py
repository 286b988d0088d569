"""``vahva tap issue`` / ``vahva tap revoke``: what the helpdesk sees in the shell."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from django.core.management import CommandError, call_command, execute_from_command_line
from django.db import connections
from django.utils import timezone

from vahva.audit.models import AuditEvent
from vahva.clock import FakeClock
from vahva.methods import registry, tap
from vahva.methods.models import RegisteredMethod

pytestmark = pytest.mark.django_db

PASS = re.compile(
    r"^    ([0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4})$", re.M
)


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("tap", *args, stdout=out)
    return out.getvalue()


def test_issue_prints_the_pass_once_with_its_expiry(alice: Any, clock: FakeClock) -> None:
    output = _run("issue", "Alice@Example.org", "--ticket", "HD-123")
    found = PASS.search(output)
    assert found, output
    code = found.group(1)
    assert len(PASS.findall(output)) == 1
    assert "Temporary access pass for alice@example.org (shown once, not stored):" in output
    row = RegisteredMethod.objects.get(user=alice, kind="tap")
    assert row.expires_at == clock() + dt.timedelta(hours=1)  # TAP_LIFETIME
    until = timezone.localtime(row.expires_at).strftime("%Y-%m-%d %H:%M")
    assert f"One use, until {until}" in output
    assert "Ticket HD-123." in output
    event = AuditEvent.objects.get(action="tap.issued")
    assert (event.subject_id, event.actor_id, event.data["ticket"]) == (alice.pk, None, "HD-123")
    registry.get("tap").verify(row, code, now=clock())


def test_issue_for_minutes_and_reusable(alice: Any, clock: FakeClock) -> None:
    output = _run("issue", "alice@example.org", "--ticket", "HD-9", "--minutes", "30", "--reusable")
    assert "Works until" in output
    row = RegisteredMethod.objects.get(user=alice, kind="tap")
    assert row.expires_at == clock() + dt.timedelta(minutes=30)
    assert row.data["one_time"] is False


def test_revoke(alice: Any, clock: FakeClock) -> None:
    _run("issue", "alice@example.org", "--ticket", "HD-1")
    assert "Revoked the temporary access pass of alice@example.org." in _run(
        "revoke", "alice@example.org", "--ticket", "HD-2"
    )
    assert tap.active_pass(alice, now=clock()) is None
    assert AuditEvent.objects.get(action="tap.revoked").data["ticket"] == "HD-2"
    assert "had no temporary access pass that still works" in _run(
        "revoke", "alice@example.org", "--ticket", "HD-2"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("issue", "nobody@example.org", "--ticket", "HD-1"), "No person with the e-mail address"),
        (("issue", "alice@example.org", "--ticket", ""), "Enter the helpdesk ticket number."),
        (("issue", "alice@example.org", "--ticket", "  "), "Enter the helpdesk ticket number."),
        (("issue", "alice@example.org"), "--ticket"),
        (("issue", "alice@example.org", "--ticket", "HD-1", "--minutes", "0"), "from 1 to 10080"),
        (("issue", "alice@example.org", "--ticket", "HD-1", "--minutes", "10081"), "from 1 to"),
        (("issue", "alice@example.org", "--ticket", "HD-1", "--minutes", "-5"), "from 1 to"),
        (("issue", "alice@example.org", "--ticket", "HD-1", "--minutes", "ten"), "whole number"),
        (("revoke", "nobody@example.org", "--ticket", "HD-1"), "No person with the e-mail"),
        (("revoke", "alice@example.org", "--ticket", ""), "Enter the helpdesk ticket number."),
    ],
)
def test_bad_commands_explain_and_save_nothing(
    alice: Any, clock: FakeClock, args: tuple[str, ...], message: str
) -> None:
    with pytest.raises(CommandError) as caught:
        _run(*args)
    assert message in str(caught.value)
    assert not RegisteredMethod.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="tap.").exists()


def test_errors_exit_with_status_1(
    alice: Any, clock: FakeClock, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    # As run from the shell; only the connection to the test database stays open afterwards.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    with pytest.raises(SystemExit) as caught:
        execute_from_command_line(["vahva", "tap", "issue", "nobody@example.org", "--ticket", "X"])
    assert caught.value.code == 1
    assert "No person with the e-mail address 'nobody@example.org'." in capsys.readouterr().err
    assert not RegisteredMethod.objects.exists()
