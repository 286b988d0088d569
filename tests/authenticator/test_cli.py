"""``vahva authenticator`` against a live server on loopback: enrol from the QR link, list
pending requests, approve with the number, deny and report, remove; the key file is 0600."""

from __future__ import annotations

import io
import os
import re
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from tests.helpers import sign_in_password, text
from vahva.audit.models import AuditEvent
from vahva.authenticator.client import parse_link
from vahva.authenticator.models import Device, PushChallenge
from vahva.methods import registry
from vahva.methods.app_push import enrolment_link
from vahva.methods.models import PendingEnrolment, RegisteredMethod

pytestmark = pytest.mark.django_db(transaction=True)


def cli(*args: str) -> str:
    out = io.StringIO()
    call_command("authenticator", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def served(live_server: Any, settings: Any) -> str:
    """The live server's URL, which QR links are then built from."""
    settings.VAHVA = {**settings.VAHVA, "PUBLIC_URL": live_server.url}
    return str(live_server.url)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_parse_link() -> None:
    assert parse_link("https://mfa.example.org/app/enroll#abc") == (
        "https://mfa.example.org",
        "abc",
    )
    assert parse_link(" https://example.org/vahva/app/enroll#c0de ") == (
        "https://example.org/vahva",
        "c0de",
    )


def test_enrol_and_sign_in_from_the_command_line(
    served: str, alice: Any, clock: Any, tmp_path: Path
) -> None:
    state = tmp_path / "device"
    method = registry.get("app_push")
    pending = method.start_enrolment(alice, now=clock())
    link = enrolment_link(pending.secret)
    assert link.startswith(served)

    out = cli("enroll", link, "--name", "Laptop", "--state", str(state))
    assert "Enrolled as device" in out
    assert "approve --number" in out
    assert mode(state) == 0o700
    assert mode(state / "key.pem") == 0o600
    assert mode(state / "device.json") == 0o600
    assert b"PRIVATE KEY" in (state / "key.pem").read_bytes()
    device = Device.objects.get()
    assert device.name == "Laptop"

    assert "Test request" in cli("pending", "--state", str(state))
    test = PushChallenge.objects.get(purpose="test")
    assert "Approved" in cli("approve", "--number", str(test.number), "--state", str(state))
    method.finish_enrolment(PendingEnrolment.objects.get(), test.pk.hex, now=clock())
    assert RegisteredMethod.objects.get().kind == "app_push"

    # Sign in in a browser; approve from the command line with the number on the page.
    clock.advance(3600)
    browser = Client()
    assert sign_in_password(browser)["Location"] == "/signin/verify/"
    match = re.search(r'id="push-number">(\d\d)<', text(browser.get("/signin/verify/")))
    assert match
    number = int(match.group(1))
    listed = cli("pending", "--state", str(state))
    assert "Sign-in request from 127.0.0.1 for Demo University" in listed
    wrong = 10 if number != 10 else 11
    with pytest.raises(CommandError, match="not the number shown"):
        cli("approve", "--number", str(wrong), "--state", str(state))
    assert "Approved" in cli("approve", "--number", str(number), "--state", str(state))
    assert browser.get("/signin/verify/status/").json() == {"state": "approved"}
    assert browser.post("/signin/verify/")["Location"] == "/security-info/"
    assert "No requests waiting." in cli("pending", "--state", str(state))

    # "It wasn't me": another sign-in, denied and reported.
    browser.post("/signout/")
    sign_in_password(browser)
    browser.get("/signin/verify/")
    assert "Denied and reported" in cli("deny", "--report", "--state", str(state))
    assert browser.get("/signin/verify/status/").json() == {"state": "reported"}
    assert AuditEvent.objects.filter(action="push.reported").count() == 1

    assert "Removed device" in cli("remove", "--state", str(state))
    assert Device.objects.get().status == "removed"
    assert not (state / "key.pem").exists()


def test_command_line_errors(served: str, alice: Any, clock: Any, tmp_path: Path) -> None:
    state = str(tmp_path / "s")
    with pytest.raises(CommandError, match="No device"):
        cli("pending", "--state", state)
    with pytest.raises(CommandError, match="not an enrolment link"):
        cli("enroll", f"{served}/somewhere#code", "--state", state)
    with pytest.raises(CommandError, match="https"):
        cli("enroll", "file:///app/enroll#code", "--state", state)
    with pytest.raises(CommandError):
        cli("approve", "--number", "5", "--state", state)
    with pytest.raises(CommandError, match="expired or has already been used"):
        cli("enroll", f"{served}/app/enroll#{'x' * 32}", "--state", state)
    assert not (tmp_path / "s" / "key.pem").exists()
    pending = registry.get("app_push").start_enrolment(alice, now=clock())
    cli("enroll", enrolment_link(pending.secret), "--state", state)
    again = registry.get("app_push").start_enrolment(alice, now=clock())
    with pytest.raises(CommandError, match="already holds device"):
        cli("enroll", enrolment_link(again.secret), "--state", state)
    with pytest.raises(CommandError, match="Cannot reach"):
        cli("enroll", f"http://127.0.0.1:9/app/enroll#{again.secret}", "--state", state + "2")


def test_the_vahva_command_in_a_subprocess(served: str, alice: Any, tmp_path: Path) -> None:
    """The real `vahva authenticator` process, with the system clock on both sides."""
    from vahva import clock

    pending = registry.get("app_push").start_enrolment(alice, now=clock.now())
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "vahva.settings.test"}
    state = str(tmp_path / "device")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vahva.cli", "authenticator", *args, "--state", state],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    enrolled = run("enroll", enrolment_link(pending.secret), "--name", "Shell")
    assert enrolled.returncode == 0, enrolled.stderr
    assert "Enrolled as device" in enrolled.stdout
    listed = run("pending")
    assert listed.returncode == 0, listed.stderr
    test = PushChallenge.objects.get(purpose="test")
    assert str(test.pk) in listed.stdout
    refused = run("approve", "--number", "100")
    assert refused.returncode != 0
    approved = run("approve", "--number", str(test.number))
    assert approved.returncode == 0, approved.stderr
    test.refresh_from_db()
    assert test.state == "approved"
    assert str(uuid.UUID(str(Device.objects.get().pk))) in enrolled.stdout


def test_approve_without_the_number_only_for_an_approve_only_request(
    served: str, alice: Any, clock: Any, tmp_path: Path
) -> None:
    from vahva.methods.base import AttemptRef

    state = str(tmp_path / "device")
    method = registry.get("app_push")
    pending = method.start_enrolment(alice, now=clock())
    cli("enroll", enrolment_link(pending.secret), "--state", state)
    test = PushChallenge.objects.get(purpose="test")
    # The test request has a number: approving without it is refused, and nothing changes.
    with pytest.raises(CommandError, match="needs the number shown where you are signing in"):
        cli("approve", "--state", state)
    assert PushChallenge.objects.get(pk=test.pk).state == "pending"
    cli("approve", "--number", str(test.number), "--state", state)
    registered = method.finish_enrolment(PendingEnrolment.objects.get(), test.pk.hex, now=clock())
    clock.advance(3600)
    attempt = uuid.uuid4()
    method.begin(
        registered,
        now=clock(),
        attempt=AttemptRef(id=str(attempt), ip="192.0.2.7", service="VPN", number_matching=False),
    )
    listed = cli("pending", "--state", state)
    assert "Approve sign-in to VPN from 192.0.2.7? (approve or deny, no number)" in listed
    assert "Approved" in cli("approve", "--state", state)
    assert PushChallenge.objects.get(attempt=attempt).state == "approved"
