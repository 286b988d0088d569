"""``vahva authenticator`` on a desktop: no server folder, no configuration, no secret key.

The command is a client of a server's device API; the person who runs it has only the
command. Run in an empty folder with a bare environment (no VAHVA_*, no settings module, a
fresh HOME), it enrols, lists and approves, and writes nothing but its own state.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vahva.authenticator.models import Device, PushChallenge
from vahva.methods import registry
from vahva.methods.app_push import enrolment_link

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def served(live_server: Any, settings: Any) -> str:
    settings.VAHVA = {**settings.VAHVA, "PUBLIC_URL": live_server.url}
    return str(live_server.url)


def test_the_command_needs_no_server_configuration(served: str, alice: Any, tmp_path: Path) -> None:
    from vahva import clock

    desktop = tmp_path / "desktop"
    home = tmp_path / "home"
    desktop.mkdir()
    home.mkdir()
    # What a person's shell has: no settings module, no VAHVA_* (no secret key anywhere).
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("VAHVA", "DJANGO")) and name != "PYTHONPATH"
    }
    env["HOME"] = str(home)
    pending = registry.get("app_push").start_enrolment(alice, now=clock.now())

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).with_name("vahva")), "authenticator", *args],
            capture_output=True,
            text=True,
            cwd=desktop,
            env=env,
            timeout=60,
            check=False,
        )

    enrolled = run("enroll", enrolment_link(pending.secret), "--name", "Desktop")
    assert enrolled.returncode == 0, enrolled.stderr
    assert "secret_key" not in enrolled.stderr
    assert "Enrolled as device" in enrolled.stdout
    listed = run("pending")
    assert listed.returncode == 0, listed.stderr
    test = PushChallenge.objects.get(purpose="test")
    assert str(test.pk) in listed.stdout
    approved = run("approve", "--number", str(test.number))
    assert approved.returncode == 0, approved.stderr
    test.refresh_from_db()
    assert test.state == "approved"
    assert Device.objects.get().name == "Desktop"
    # It keeps only its own key and accounts, in its state folder (default under HOME):
    # no var/vahva.toml, no database, nothing in the folder it was run from.
    assert list(desktop.iterdir()) == []
    state = home / ".config" / "vahva-authenticator"
    assert sorted(p.name for p in state.iterdir()) == ["device.json", "key.pem"]
    # A mistake is a message and an exit status, not a traceback about the server.
    wrong = run("approve", "--number", "100")
    assert wrong.returncode != 0
    assert "Traceback" not in wrong.stderr
