"""A VPN that cannot show an Access-Challenge (``--prompt wait``): radclient (Debian
freeradius-utils) sends the password, the request waits, and the person answers an
approve-only request ("Approve sign-in to VPN from 192.0.2.7?") with the command-line
authenticator against the live device API. Approved → Access-Accept; denied → Access-Reject
and a cool-down; no answer → Access-Reject when the clock passes ``radius_push_wait``; a
wait-mode client without the opt-in sends no push; a burst of Access-Requests puts no more
requests on the phone than the allowance."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyrad import packet

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
from tests.radius.test_server import Nas
from vahva import bus
from vahva.audit.models import AuditEvent
from vahva.authenticator.models import PushChallenge
from vahva.conf import settings as vahva_settings
from vahva.radius import clients

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("radclient") is None, reason="needs freeradius-utils"),
]

PASSWORD = "correct horse battery"
SIGN_IN = {
    "User-Name": "alice@example.org",
    "User-Password": PASSWORD,
    "Calling-Station-Id": "192.0.2.7",
}


@pytest.fixture
def device(live_server: Any, settings: Any, alice: Any, clock: Any, tmp_path: Path) -> Path:
    """Alice's vahva app: the command-line client enrolled against the live server."""
    settings.VAHVA = {**settings.VAHVA, "PUBLIC_URL": live_server.url, "RADIUS_PUSH_WAIT": 15}
    return enrol_cli_app(alice, clock, tmp_path / "device")


@pytest.fixture
def server(device: Path) -> Iterator[ServerThread]:
    running = ServerThread().start()
    yield running
    running.stop()


def vpn(server: ServerThread, **options: Any) -> None:
    clients.add(
        "VPN",
        addresses=["127.0.0.1/32"],
        secret=SECRET,
        mfa_rule="always",
        prompt="wait",
        **options,
    )
    server.reload()


def ask_later(server: ServerThread, attrs: dict[str, Any]) -> subprocess.Popen[str]:
    """radclient's request, which waits for the app: started now, read with finish()."""
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


def wait_for_push(count: int = 1) -> PushChallenge:
    """The newest sign-in request, once ``count`` of them exist (the phone's view, in the
    database; polled with a deadline)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        sent = PushChallenge.objects.filter(purpose="signin").order_by("-created_at")
        if sent.count() >= count:
            return sent[0]
        time.sleep(0.05)  # polling the database with a deadline
    pytest.fail("no push was sent")


def waiter_listens() -> None:
    """Wait (polling, with a deadline) until the request waits on the bus: its wait began,
    so the clock moved from now on counts against it."""
    hub = bus.get()
    assert isinstance(hub, bus.InProcessBus)
    deadline = time.monotonic() + WAIT
    while hub.waiting() == 0:
        assert time.monotonic() < deadline, "the request never waited for the app"
        time.sleep(0.05)  # polling the bus with a deadline


def test_approved_in_the_app_without_a_number(server: ServerThread, device: Path) -> None:
    vpn(server, approve_only=True)
    waiting = ask_later(server, SIGN_IN)
    wait_for_push()
    listed = cli("pending", "--state", str(device))
    # What the person sees: a question, no number to type (the VPN cannot show one).
    assert "Approve sign-in to VPN from 192.0.2.7? (approve or deny, no number)" in listed
    assert "Approved" in cli("approve", "--state", str(device))
    code, reply = finish(waiting)
    assert code == "Access-Accept", reply
    accepted = AuditEvent.objects.get(action="radius.accept")
    assert accepted.data["amr"] == ["mfa", "pwd", "swk"]
    assert accepted.data["method"] == "app_push"


def test_denied_then_cooled_down(server: ServerThread, device: Path, clock: Any) -> None:
    vpn(server, approve_only=True)
    waiting = ask_later(server, SIGN_IN)
    wait_for_push()
    assert "Denied (" in cli("deny", "--state", str(device))
    code, reply = finish(waiting)
    assert code == "Access-Reject"
    assert reply["Reply-Message"] == "The sign-in request was denied."
    assert AuditEvent.objects.get(action="radius.reject").reason == "the person denied the request"
    # Push bombing: the thief's retry a minute later reaches no phone, and says why.
    clock.advance(60)
    code, reply = radclient(server.port, SECRET, SIGN_IN, timeout=WAIT)
    assert code == "Access-Reject", reply
    assert reply["Reply-Message"] == (
        "You denied a sign-in request a moment ago, so no new one is sent for 4 minutes. "
        "Try again then."
    )
    assert PushChallenge.objects.filter(purpose="signin").count() == 1


def test_denied_and_reported(server: ServerThread, device: Path) -> None:
    vpn(server, approve_only=True)
    waiting = ask_later(server, SIGN_IN)
    wait_for_push()
    assert "Denied and reported" in cli("deny", "--report", "--state", str(device))
    code, reply = finish(waiting)
    assert code == "Access-Reject"
    assert reply["Reply-Message"] == "The sign-in request was denied."
    assert AuditEvent.objects.filter(action="push.reported").count() == 1


def test_no_answer_is_rejected_when_the_clock_passes_the_wait(
    server: ServerThread, device: Path, clock: Any
) -> None:
    vpn(server, approve_only=True)
    started = time.monotonic()
    waiting = ask_later(server, SIGN_IN)
    push = wait_for_push()
    waiter_listens()
    clock.advance(14)
    # (A word on the bus wakes the waiter to look at the clock now, as any answer would.)
    bus.get().publish(str(push.attempt), "tick")
    assert waiting.poll() is None, "rejected before the wait was over"
    clock.advance(1)
    bus.get().publish(str(push.attempt), "tick")
    code, reply = finish(waiting)
    assert code == "Access-Reject", reply
    assert reply["Reply-Message"] == "No answer from your app in time. Try again."
    assert AuditEvent.objects.get(action="radius.reject").reason == "no answer within the wait"
    # The injectable clock ended the wait, not 15 real seconds.
    assert time.monotonic() - started < 15


def test_a_wait_client_without_approve_only_sends_no_push(
    server: ServerThread, device: Path
) -> None:
    vpn(server)
    code, reply = radclient(server.port, SECRET, SIGN_IN, timeout=WAIT)
    assert code == "Access-Reject", reply
    assert reply["Reply-Message"] == (
        "This VPN cannot show the number to type in the vahva app. Contact your IT support."
    )
    # No request the person could not complete (it would count against them as ignored).
    assert not PushChallenge.objects.filter(purpose="signin").exists()
    rejected = AuditEvent.objects.get(action="radius.reject")
    assert rejected.reason == "the client cannot show the number to type in the app"


def test_a_challenge_client_keeps_number_matching(server: ServerThread, device: Path) -> None:
    with pytest.raises(clients.InvalidClient, match="keeps number matching"):
        clients.add(
            "VPN",
            addresses=["127.0.0.1/32"],
            secret=SECRET,
            mfa_rule="always",
            prompt="challenge",
            approve_only=True,
        )
    assert not clients.listed()


def test_fifty_parallel_access_requests_put_one_request_on_the_phone(
    server: ServerThread, device: Path
) -> None:
    """Push bombing through a wait-mode VPN: a burst of sign-ins with the right password,
    all at once, gets no more requests to the phone than the allowance."""
    vpn(server, approve_only=True)
    allowed = vahva_settings.PUSH_MAX_OPEN
    replies: list[packet.Packet] = []
    lock = threading.Lock()
    go = threading.Barrier(50)

    def sign_in() -> None:
        nas = Nas(server.port)
        request = nas.access(
            password=PASSWORD, User_Name="alice@example.org", Calling_Station_Id="192.0.2.7"
        )
        go.wait(WAIT)
        reply = nas.ask(request)
        with lock:
            replies.append(reply)

    threads = [threading.Thread(target=sign_in) for _ in range(50)]
    for thread in threads:
        thread.start()
    wait_for_push()
    # Everyone but the request's own sign-in is refused without waiting.
    deadline = time.monotonic() + WAIT
    while len(replies) < 50 - allowed and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the answers with a deadline
    sent = PushChallenge.objects.filter(purpose="signin").count()
    assert 1 <= sent <= allowed
    for _ in range(sent):
        cli("deny", "--state", str(device))
    for thread in threads:
        thread.join(WAIT)
    assert len(replies) == 50
    assert all(reply.code == packet.AccessReject for reply in replies)
    said = Counter(str(reply["Reply-Message"][0]).split(".")[0] for reply in replies)
    # The request's own sign-in was denied; the others were told one is waiting (or, while
    # the burst's passwords were still being counted, to slow down).
    assert said.pop("The sign-in request was denied") == sent
    assert said.pop("A sign-in request is already waiting on your phone") >= 1
    assert set(said) <= {"Too many failed attempts"}, said
    assert PushChallenge.objects.filter(purpose="signin").count() == sent


def test_paused_requests_reject_at_once_or_ask_for_the_code(
    server: ServerThread, device: Path, alice: Any, clock: Any
) -> None:
    """After suspicious attempts the app's requests are paused: a wait-mode VPN does not hang
    for radius_push_wait on a request that was never sent, and a VPN that shows challenges
    asks for the app's offline code."""
    from vahva.authenticator.models import PushPause

    PushPause.objects.create(
        user=alice, since=clock(), until=clock() + dt.timedelta(days=1), attempts=3
    )
    vpn(server, approve_only=True)
    started = time.monotonic()
    code, reply = radclient(server.port, SECRET, SIGN_IN, timeout=WAIT)
    assert code == "Access-Reject", reply
    assert reply["Reply-Message"] == (
        "Requests to your vahva app are paused after suspicious sign-in attempts. "
        "Contact your IT support."
    )
    assert time.monotonic() - started < 15
    assert not PushChallenge.objects.filter(purpose="signin").exists()
    clients.add(
        "Portal", addresses=["127.0.0.2/32"], secret=SECRET, mfa_rule="always", prompt="challenge"
    )
    server.reload()
    portal = Nas(server.port, source="127.0.0.2")
    request = portal.access(
        password=PASSWORD, User_Name="alice@example.org", Calling_Station_Id="192.0.2.7"
    )
    challenge = portal.ask(request)
    assert challenge.code == packet.AccessChallenge
    assert challenge["Reply-Message"] == [
        "Requests to your vahva app are paused after suspicious sign-in attempts. "
        "Enter the code shown in the app."
    ]
