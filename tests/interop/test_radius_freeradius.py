"""`vahva radius serve` as operators run it (its own process, a SQLite file, `vahva radius
client add`), behind FreeRADIUS as a proxy, as many campuses run it: radclient → FreeRADIUS
→ vahva, password then a code through the Access-Challenge (FreeRADIUS carries the State
both ways)."""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest

from tests.radius.harness import WAIT, FreeRadiusProxy, free_udp_port, radclient

pytestmark = pytest.mark.skipif(
    shutil.which("radclient") is None or shutil.which("freeradius") is None,
    reason="needs freeradius and freeradius-utils",
)

VAHVA = str(Path(sys.executable).with_name("vahva"))
EMAIL = "alice@example.org"
PASSWORD = "correct horse battery staple"
VAHVA_SECRET = "vahva-and-freeradius-share-this"
NAS_SECRET = "the-vpn-and-freeradius-share-this"
SECRET_B32 = pyotp.random_base32()

ADD_TOTP = f"""
import datetime as dt, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vahva.settings.main")
import django
django.setup()
from vahva import clock
from vahva.accounts.models import User
from vahva.methods import service
service.save_new(User.objects.get(email={EMAIL!r}), "totp",
                 now=clock.now() - dt.timedelta(hours=3), secret={SECRET_B32!r})
"""


def _run(command: list[str], *, env: dict[str, str], cwd: Path, stdin: str = "") -> str:
    done = subprocess.run(
        command, env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@dataclass
class Deployment:
    port: int
    accounting_port: int
    process: subprocess.Popen[bytes]
    output: bytearray


def _wait_for(process: subprocess.Popen[bytes], text: bytes, output: bytearray) -> None:
    assert process.stdout is not None
    fd = process.stdout.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        for _try in range(int(WAIT / 0.2)):
            if text in output:
                return
            if selector.select(timeout=0.2):
                chunk = os.read(fd, 65536)
                assert chunk, f"vahva radius serve exited:\n{output.decode()}"
                output.extend(chunk)
    pytest.fail(f"vahva radius serve never printed {text!r}:\n{output.decode()}")


@pytest.fixture(scope="module")
def vahva_radius(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    data_dir = tmp_path_factory.mktemp("radius")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VAHVA_", "DJANGO_")) and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env["VAHVA_DATA_DIR"] = str(data_dir)
    _run([VAHVA, "init", "--demo"], env=env, cwd=data_dir)
    _run([VAHVA, "migrate", "--noinput", "-v", "0"], env=env, cwd=data_dir)
    _run(
        [VAHVA, "user", "add", EMAIL, "--name", "Alice", "--password-stdin"],
        env=env,
        cwd=data_dir,
        stdin=PASSWORD + "\n",
    )
    _run([sys.executable, "-c", ADD_TOTP], env=env, cwd=data_dir)
    added = _run(
        [
            VAHVA,
            "radius",
            "client",
            "add",
            "FreeRADIUS",
            "--address",
            "127.0.0.1/32",
            "--secret",
            VAHVA_SECRET,
            "--mfa",
            "always",
            "--service",
            "Campus VPN",
        ],
        env=env,
        cwd=data_dir,
    )
    assert "Added RADIUS client FreeRADIUS (127.0.0.1/32)" in added
    assert "FreeRADIUS\t127.0.0.1/32\tservice Campus VPN\tMFA always" in _run(
        [VAHVA, "radius", "client", "list"], env=env, cwd=data_dir
    )
    port, accounting = free_udp_port(), free_udp_port()
    process = subprocess.Popen(
        [
            VAHVA,
            "radius",
            "serve",
            "--address",
            "127.0.0.1",
            "--port",
            str(port),
            "--accounting-port",
            str(accounting),
        ],
        env=env,
        cwd=data_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = bytearray()
    try:
        _wait_for(process, f"accounting on 127.0.0.1:{accounting}".encode(), output)
        yield Deployment(port, accounting, process, output)
    finally:
        # Only the server this test started, by its pid.
        process.terminate()
        process.wait(WAIT)


@pytest.fixture(scope="module")
def proxy(
    vahva_radius: Deployment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FreeRadiusProxy]:
    running = FreeRadiusProxy(
        tmp_path_factory.mktemp("freeradius"),
        vahva_radius.port,
        secret=NAS_SECRET,
        home_secret=VAHVA_SECRET,
    ).start()
    yield running
    running.stop()


def test_code_through_a_freeradius_proxy(proxy: FreeRadiusProxy) -> None:
    code, reply = radclient(
        proxy.port, NAS_SECRET, {"User-Name": EMAIL, "User-Password": PASSWORD}, timeout=10
    )
    assert code == "Access-Challenge", reply
    assert reply["Reply-Message"] == "Enter the code from your authenticator app"
    code, reply = radclient(
        proxy.port,
        NAS_SECRET,
        {
            "User-Name": EMAIL,
            "User-Password": pyotp.TOTP(SECRET_B32).now(),
            "State": reply["State"],
        },
        timeout=10,
    )
    assert code == "Access-Accept", reply


def test_wrong_password_through_the_proxy(proxy: FreeRadiusProxy) -> None:
    code, reply = radclient(
        proxy.port, NAS_SECRET, {"User-Name": EMAIL, "User-Password": "wrong"}, timeout=10
    )
    assert code == "Access-Reject", reply
    assert reply["Reply-Message"] == "The e-mail address or the password is not right."


def test_the_server_drops_what_the_vpn_sends_it_directly(vahva_radius: Deployment) -> None:
    # The VPN's secret is FreeRADIUS's, not vahva's: straight to vahva, it gets no answer.
    code, _reply = radclient(
        vahva_radius.port, NAS_SECRET, {"User-Name": EMAIL, "User-Password": PASSWORD}, timeout=1
    )
    assert code == "timeout"


def test_accounting_is_acknowledged_on_its_own_port(vahva_radius: Deployment) -> None:
    code, _reply = radclient(
        vahva_radius.accounting_port,
        VAHVA_SECRET,
        {"User-Name": EMAIL, "Acct-Status-Type": "Start", "Acct-Session-Id": "s1"},
        authenticator=False,
        kind="acct",
    )
    assert code == "Accounting-Response"
