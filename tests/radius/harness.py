"""RADIUS peers for the tests: radclient (Debian freeradius-utils), a FreeRADIUS proxy (Debian
freeradius), and vahva's own server run on a loop in a thread of the test process (so it sees
the test database and the in-process event bus). Everything listens on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import io
import re
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.core.management import call_command

from tests.redis_server import free_port
from vahva.radius import clients
from vahva.radius.server import RadiusServer

SECRET = "testing123-long-enough"
#: Every bounded wait of the harness (a peer starting, a reply); a healthy run needs far less.
WAIT = 20.0


def authenticator_cli(*args: str) -> str:
    """Run `vahva authenticator` (the command-line app, a client of the device API)."""
    out = io.StringIO()
    call_command("authenticator", *args, stdout=out)
    return out.getvalue()


def enrol_cli_app(user: Any, clock: Any, state: Path) -> Path:
    """Enrol the command-line app as ``user``'s vahva app against the live server, as the
    pages do: enrol, answer the test request with its number, save the method."""
    from vahva.authenticator.models import PushChallenge
    from vahva.methods import registry
    from vahva.methods.app_push import enrolment_link
    from vahva.methods.models import PendingEnrolment

    method = registry.get("app_push")
    pending = method.start_enrolment(user, now=clock())
    authenticator_cli(
        "enroll", enrolment_link(pending.secret), "--name", "Phone", "--state", str(state)
    )
    test = PushChallenge.objects.get(purpose="test")
    authenticator_cli("approve", "--number", str(test.number), "--state", str(state))
    method.finish_enrolment(PendingEnrolment.objects.get(), test.pk.hex, now=clock())
    return state


def free_udp_port() -> int:
    return free_port(socket.SOCK_DGRAM)  # this xdist worker's share of the ports


def radclient_input(attrs: Mapping[str, str | bytes], *, authenticator: bool = True) -> str:
    lines = [
        f"{key} = {'0x' + value.hex() if isinstance(value, bytes) else chr(34) + value + chr(34)}"
        for key, value in attrs.items()
    ]
    if authenticator:
        lines.append("Message-Authenticator = 0x00")  # radclient fills in the real HMAC
    return "\n".join(lines) + "\n"


def parse_radclient(stdout: str) -> tuple[str, dict[str, Any]]:
    # radclient exits 1 for anything but an Accept (a Challenge included): read its output.
    match = re.search(r"^Received (Access-\w+|Accounting-\w+) Id", stdout, re.M)
    if not match:
        return "timeout", {}
    reply: dict[str, Any] = {}
    for key, value in re.findall(r"^\t(\S+) = (.*)$", stdout[match.end() :], re.M):
        parsed = bytes.fromhex(value[2:]) if value.startswith("0x") else value.strip('"')
        if key in reply:
            reply[key] = (
                [*reply[key], parsed] if isinstance(reply[key], list) else [reply[key], parsed]
            )
        else:
            reply[key] = parsed
    return match.group(1), reply


def radclient_command(
    port: int, secret: str, *, timeout: float = 2, kind: str = "auth"
) -> list[str]:
    return ["radclient", "-x", "-r", "1", "-t", str(timeout), f"127.0.0.1:{port}", kind, secret]


def radclient(
    port: int,
    secret: str,
    attrs: Mapping[str, str | bytes],
    *,
    timeout: float = 2,
    authenticator: bool = True,
    kind: str = "auth",
) -> tuple[str, dict[str, Any]]:
    """Send one request; (reply code or "timeout", reply attributes)."""
    done = subprocess.run(
        radclient_command(port, secret, timeout=timeout, kind=kind),
        input=radclient_input(attrs, authenticator=authenticator),
        capture_output=True,
        text=True,
        timeout=timeout + WAIT,
    )
    return parse_radclient(done.stdout)


class ServerThread:
    """vahva's RADIUS server on its own loop in a thread of the test process."""

    def __init__(self) -> None:
        self.port = free_udp_port()
        self.loop = asyncio.new_event_loop()
        self.protocol: RadiusServer | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._stop: asyncio.Event | None = None
        self.failed: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by start()
            self.failed = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        known = self.known
        transport, protocol = await self.loop.create_datagram_endpoint(
            lambda: RadiusServer(known, loader=clients.load_all),
            local_addr=("127.0.0.1", self.port),
        )
        self.protocol = protocol
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            transport.close()

    def reload(self) -> None:
        """Read the clients again now (the server itself does every few seconds)."""
        assert self.protocol is not None
        self.protocol.clients = clients.load_all()

    def start(self) -> ServerThread:
        self.known = clients.load_all()
        self._thread.start()
        assert self._ready.wait(WAIT), "the RADIUS server did not start"
        if self.failed is not None:
            raise self.failed
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(WAIT)


FREERADIUS_PROXY_CONF = """\
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
raddbdir = @D@
confdir = @D@
logdir = @D@
run_dir = @D@
db_dir = @D@
radacctdir = @D@
libdir = /usr/lib/freeradius
pidfile = @D@/radiusd.pid
name = freeradius
max_request_time = 30
proxy_requests = yes
log {
	destination = stdout
}
client localhost {
	ipaddr = 127.0.0.1
	secret = @SECRET@
	require_message_authenticator = yes
}
home_server vahva {
	type = auth
	ipaddr = 127.0.0.1
	port = @HOME@
	secret = @HOME_SECRET@
	response_window = 20
	status_check = none
}
home_server_pool vahva_pool {
	type = fail-over
	home_server = vahva
}
realm vahva {
	auth_pool = vahva_pool
}
modules {
}
server default {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = @LISTEN@
	}
	authorize {
		update control {
			&Proxy-To-Realm := "vahva"
		}
	}
	authenticate {
	}
}
"""


class FreeRadiusProxy:
    """``freeradius -X`` in the foreground, proxying every Access-Request to vahva."""

    def __init__(self, folder: Path, home_port: int, *, secret: str, home_secret: str) -> None:
        self.dir = folder
        self.home_port = home_port
        self.secret = secret
        self.home_secret = home_secret
        self.port = free_udp_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> FreeRadiusProxy:
        conf = (
            FREERADIUS_PROXY_CONF.replace("@D@", str(self.dir))
            .replace("@LISTEN@", str(self.port))
            .replace("@HOME@", str(self.home_port))
            .replace("@SECRET@", self.secret)
            .replace("@HOME_SECRET@", self.home_secret)
        )
        (self.dir / "radiusd.conf").write_text(conf)
        self.log = self.dir / "freeradius.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                ["freeradius", "-X", "-d", str(self.dir)], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + WAIT
        while b"Ready to process requests" not in self.log.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(self.log.read_text()[-3000:])
            time.sleep(0.05)  # polling the log with a deadline: freeradius has no ready signal
        return self

    def stop(self) -> None:
        # Only the process this test started, by its pid.
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(WAIT)
