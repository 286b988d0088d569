"""A right code finishes the attempt and signs the browser in within one write transaction:
the attempt's move, the code's single use, last_login, the session's row and the audit row are
committed together, or none of them is."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import user_logged_in
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.helpers import code_for, sign_in_password
from vahva.audit.models import AuditEvent
from vahva.methods.models import RegisteredMethod
from vahva.sessions.models import BrowserSession
from vahva.signin.models import SignInAttempt
from vahva.signin.states import State

pytestmark = pytest.mark.django_db(transaction=True)


def _to_second_step(browser: Client) -> SignInAttempt:
    assert sign_in_password(browser).status_code == 302
    return SignInAttempt.objects.get()


def test_the_sign_in_rows_are_written_in_the_commit_that_finishes_the_attempt(
    alice_totp: Any, clock: Any
) -> None:
    _method, secret = alice_totp
    browser = Client()
    _to_second_step(browser)
    with CaptureQueriesContext(connection) as captured:
        answer = browser.post("/signin/verify/", {"code": code_for(secret, clock)})
    assert answer.status_code == 302
    statements = [q["sql"] for q in captured.captured_queries]
    commit = next(i for i, s in enumerate(statements) if s.startswith("COMMIT"))
    move = next(
        i for i, s in enumerate(statements) if s.startswith('UPDATE "signin_signinattempt"')
    )
    for table in ("accounts_user", "vahva_sessions_browsersession", "audit_auditevent"):
        written = [
            i
            for i, s in enumerate(statements)
            if s.startswith(("UPDATE", "INSERT")) and f'"{table}"' in s
        ]
        # After the attempt's move, before the commit that makes it done: one transaction.
        assert written, table
        assert all(move < i < commit for i in written), table
    assert browser.get("/security-info/").status_code == 200


def test_a_failure_while_signing_in_leaves_the_attempt_waiting_and_the_code_unused(
    alice_totp: Any, clock: Any
) -> None:
    method, secret = alice_totp
    browser = Client(raise_request_exception=False)
    attempt = _to_second_step(browser)
    code = code_for(secret, clock)

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("a receiver failed")

    user_logged_in.connect(broken, dispatch_uid="test.broken")
    try:
        assert browser.post("/signin/verify/", {"code": code}).status_code == 500
    finally:
        user_logged_in.disconnect(dispatch_uid="test.broken")
    # Nothing of the finish was kept: the attempt waits, the step is unused, no session row,
    # no success in the sign-in log, and the browser is not signed in.
    assert SignInAttempt.objects.get(pk=attempt.pk).state == State.MFA_REQUIRED
    assert RegisteredMethod.objects.get(pk=method.pk).counter == method.counter
    assert not BrowserSession.objects.exists()
    assert not AuditEvent.objects.filter(action="signin.success").exists()
    assert browser.get("/security-info/").status_code == 302
    # The same code then finishes it, once.
    assert browser.post("/signin/verify/", {"code": code}).status_code == 302
    assert SignInAttempt.objects.get(pk=attempt.pk).state == State.DONE
    assert browser.get("/security-info/").status_code == 200
