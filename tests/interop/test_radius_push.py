"""Password + push over RADIUS, answered with the command-line authenticator (`vahva
authenticator`, the device API's own client) against the live server: number matching through
the Access-Challenge, approved, denied and reported, no answer in time, and a client that
cannot show a challenge (the request waits)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError

from tests.radius.harness import (
    SECRET,
    WAIT,
    ServerThread,
    enrol_cli_app,
    parse_radclient,
    radclient,
    radclient_command,
    radclient_input,
)
from tests.radius.harness import (
    authenticator_cli as cli,
)
from vahva.audit.models import AuditEvent
from vahva.authenticator.models import PushChallenge
from vahva.radius import clients

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("radclient") is None, reason="needs freeradius-utils"),
]

PASSWORD = "correct horse battery"


@pytest.fixture
def device(live_server: Any, settings: Any, alice: Any, clock: Any, tmp_path: Path) -> Path:
    """Alice's vahva app: the command-line client enrolled against the live server."""
    settings.VAHVA = {**settings.VAHVA, "PUBLIC_URL": live_server.url, "RADIUS_PUSH_WAIT": 10}
    return enrol_cli_app(alice, clock, tmp_path / "device")


@pytest.fixture
def server(device: Path) -> Iterator[ServerThread]:
    running = ServerThread().start()
    yield running
    running.stop()


def vpn(server: ServerThread, **options: Any) -> None:
    clients.add("VPN", addresses=["127.0.0.1/32"], secret=SECRET, mfa_rule="always", **options)
    server.reload()


def challenge(server: ServerThread) -> tuple[int, bytes]:
    code, reply = radclient(
        server.port,
        SECRET,
        {
            "User-Name": "alice@example.org",
            "User-Password": PASSWORD,
            "Calling-Station-Id": "192.0.2.7",
        },
    )
    assert code == "Access-Challenge", reply
    shown = re.fullmatch(r"Open the vahva app and type the number (\d\d)", reply["Reply-Message"])
    assert shown, reply["Reply-Message"]
    return int(shown.group(1)), reply["State"]


def answer_later(server: ServerThread, attrs: dict[str, Any]) -> subprocess.Popen[str]:
    """The VPN's next request, which waits for the app: started now, read with finish()."""
    process = subprocess.Popen(
        radclient_command(server.port, SECRET, timeout=WAIT),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    process.stdin.write(radclient_input(attrs))
    process.stdin.close()
    return process


def finish(process: subprocess.Popen[str]) -> tuple[str, dict[str, Any]]:
    assert process.stdout is not None
    out = process.stdout.read()
    process.wait(WAIT)
    return parse_radclient(out)


def test_push_with_number_matching_approved(server: ServerThread, device: Path) -> None:
    vpn(server)
    number, state = challenge(server)
    pending = cli("pending", "--state", str(device))
    # The phone shows where the sign-in comes from (the VPN user's address) and the service.
    assert "Sign-in request to VPN from 192.0.2.7" in pending, pending
    waiting = answer_later(
        server, {"User-Name": "alice@example.org", "User-Password": "", "State": state}
    )
    wrong = 10 if number != 10 else 11
    with pytest.raises(CommandError, match="not the number shown"):
        cli("approve", "--number", str(wrong), "--state", str(device))
    assert "Approved" in cli("approve", "--number", str(number), "--state", str(device))
    code, reply = finish(waiting)
    assert code == "Access-Accept", reply
    accepted = AuditEvent.objects.get(action="radius.accept")
    assert accepted.data["amr"] == ["mfa", "pwd", "swk"]
    assert accepted.data["method"] == "app_push"
    # The approval is used once: the same State again gets nothing more.
    code, reply = radclient(
        server.port, SECRET, {"User-Name": "alice@example.org", "User-Password": "", "State": state}
    )
    assert code == "Access-Reject", reply


def test_push_denied_and_reported(server: ServerThread, device: Path) -> None:
    vpn(server)
    _number, state = challenge(server)
    waiting = answer_later(
        server, {"User-Name": "alice@example.org", "User-Password": "", "State": state}
    )
    assert "Denied and reported" in cli("deny", "--report", "--state", str(device))
    code, reply = finish(waiting)
    assert code == "Access-Reject"
    assert reply["Reply-Message"] == "The sign-in request was denied."
    assert AuditEvent.objects.filter(action="push.reported").count() == 1
    rejected = AuditEvent.objects.get(action="radius.reject")
    assert rejected.reason == "the person denied the request"
    # "It wasn't me" holds further pushes: the thief's next try reaches no phone.
    code, reply = radclient(
        server.port, SECRET, {"User-Name": "alice@example.org", "User-Password": PASSWORD}
    )
    assert code == "Access-Reject", reply


def test_push_not_answered_in_time(server: ServerThread, settings: Any) -> None:
    vpn(server)
    settings.VAHVA = {**settings.VAHVA, "RADIUS_PUSH_WAIT": 1}
    _number, state = challenge(server)
    code, reply = radclient(
        server.port,
        SECRET,
        {"User-Name": "alice@example.org", "User-Password": "", "State": state},
        timeout=WAIT,
    )
    assert code == "Access-Reject"
    assert reply["Reply-Message"] == "No answer from your app in time. Try again."


def test_client_without_challenges_waits_for_the_approval(
    server: ServerThread, device: Path
) -> None:
    vpn(server, prompt="wait", approve_only=True)
    waiting = answer_later(server, {"User-Name": "alice@example.org", "User-Password": PASSWORD})
    # No challenge to show a number in: the client opted in to approve-only requests, so
    # the person approves without one (tests/radius/test_wait_mode.py has the rest).
    pushed = wait_for_push()
    assert pushed.match == "none"
    assert "Approved" in cli("approve", "--state", str(device))
    code, reply = finish(waiting)
    assert code == "Access-Accept", reply


def wait_for_push() -> PushChallenge:
    import time

    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = PushChallenge.objects.filter(purpose="signin").first()
        if found is not None:
            return found
        time.sleep(0.05)  # polling the database with a deadline
    pytest.fail("no push was sent")


def test_one_approval_finishes_one_request_even_asked_four_times_at_once(
    server: ServerThread, device: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    vpn(server)
    number, state = challenge(server)
    assert "Approved" in cli("approve", "--number", str(number), "--state", str(device))

    def again(_n: int) -> str:
        return radclient(
            server.port,
            SECRET,
            {"User-Name": "alice@example.org", "User-Password": "", "State": state},
            timeout=WAIT,
        )[0]

    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(again, range(4)))
    assert codes.count("Access-Accept") == 1, codes
    assert codes.count("Access-Reject") == 3, codes
    assert AuditEvent.objects.filter(action="radius.accept").count() == 1
