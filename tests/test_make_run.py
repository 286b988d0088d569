"""What `make run` does, step by step, in a throwaway data folder and on a free port.

The same commands as the Makefile's ``run`` target (``vahva init --demo``, ``migrate``,
``demo``, ``serve``), run as subprocesses, then the pages a first visitor opens and Bob's
sign-in up to the code step, over real HTTP on loopback.
"""

from __future__ import annotations

import os
import re
import selectors
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

VAHVA = str(Path(sys.executable).with_name("vahva"))


def _clean_env(data_dir: Path) -> dict[str, str]:
    # The test settings put VAHVA_SECRET_KEY, VAHVA_CONFIG... into this process's environment;
    # the demo must run on what `vahva init` writes, as it does for a person typing make run.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VAHVA_", "DJANGO_")) and key != "DATABASE_URL"
    }
    env["VAHVA_DATA_DIR"] = str(data_dir)
    return env


def _vahva(*args: str, env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(
        [VAHVA, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"vahva {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _free_port() -> int:
    from tests.redis_server import free_port  # this xdist worker's share of the ports

    return free_port()


def _wait_until_serving(server: subprocess.Popen[bytes], url: str, log: bytearray) -> None:
    """Poll until the server answers (at most 300 tries, each waiting on its output <= 0.2 s).

    The server's output is read meanwhile, so that its pipe never fills up and a crash at
    start-up is reported with what it printed.
    """
    assert server.stdout is not None
    fd = server.stdout.fileno()
    with selectors.DefaultSelector() as selector, httpx.Client(timeout=0.5) as probe:
        selector.register(fd, selectors.EVENT_READ)
        for _try in range(300):
            if selector.select(timeout=0.2):
                chunk = os.read(fd, 65536)
                assert chunk, f"vahva serve exited with {server.wait()}:\n{log.decode()}"
                log.extend(chunk)
            try:
                probe.get(url + "/signin/")
            except httpx.TransportError:
                continue
            return
    pytest.fail(f"vahva serve did not answer on {url}:\n{log.decode()}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """Run `make run`'s commands; yield (server URL, what `vahva demo` printed, data dir)."""
    data_dir = tmp_path_factory.mktemp("vahva-data")
    env = _clean_env(data_dir)
    assert "Wrote" in _vahva("init", "--demo", env=env, cwd=data_dir)
    # make run runs every time: a second init keeps the secrets, a second demo changes nothing.
    assert "leaving it as it is" in _vahva("init", "--demo", env=env, cwd=data_dir)
    _vahva("migrate", "--noinput", "-v", "0", env=env, cwd=data_dir)
    printed = _vahva("demo", env=env, cwd=data_dir)
    assert _vahva("demo", env=env, cwd=data_dir) == printed

    port = _free_port()
    server = subprocess.Popen(
        [VAHVA, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=data_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    log = bytearray()
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_serving(server, url, log)
        yield url, printed, data_dir
    finally:
        # Only the server this test started, by its pid.
        server.terminate()
        try:
            server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate(timeout=15)


def test_demo_says_where_to_go_and_who_can_sign_in(demo: tuple[str, str, Path]) -> None:
    _url, printed, data_dir = demo
    assert (data_dir / "vahva.toml").exists()
    assert (data_dir / "vahva.sqlite3").exists()
    assert "Demo University: open http://localhost:8000/ in your browser." in printed
    for email, password in (
        ("alice@demo.example", "alice-demo-pass"),
        ("bob@demo.example", "bob-demo-pass"),
        ("admin@demo.example", "admin-demo-pass"),
    ):
        assert re.search(rf"^\s+{re.escape(email)}\s+{re.escape(password)}\b", printed, re.M)
    assert "http://localhost:8000/admin/" in printed
    assert "oathtool --totp -b " in printed
    assert "the app lives at http://localhost:8000/app/" in printed
    assert "dev phone: http://localhost:8000/dev/phone" in printed


def test_first_pages_and_the_stylesheet_load(demo: tuple[str, str, Path]) -> None:
    url, _printed, _data_dir = demo
    with httpx.Client(base_url=url, timeout=10) as browser:
        home = browser.get("/")
        assert home.status_code == 302
        assert home.headers["location"] == "/signin/"
        page = browser.get("/signin/")
        assert page.status_code == 200
        assert "Demo University" in page.text
        assert "E-mail address" in page.text
        assert "Content-Security-Policy" in page.headers
        help_page = browser.get("/help/")
        assert help_page.status_code == 200
        assert "Something you have" in help_page.text
        stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text)
        assert stylesheet, "the page links a stylesheet"
        css = browser.get(stylesheet.group(1))
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
        assert "font-family" in css.text
        # The vahva app and its service worker are served, and so is the demo's dev phone.
        app = browser.get("/app/")
        assert app.status_code == 200
        assert "Welcome to the vahva app" in app.text
        worker = browser.get("/app/sw.js")
        assert worker.headers["content-type"].startswith("text/javascript")
        assert browser.get("/dev/phone/").status_code == 200


def _field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} in the form"
    return match.group(1)


def test_bob_signs_in_with_the_printed_password_and_code(demo: tuple[str, str, Path]) -> None:
    url, printed, _data_dir = demo
    password = re.search(r"bob@demo\.example\s+(\S+)", printed)
    command = re.search(r"oathtool --totp -b \S+", printed)
    assert password, "the demo prints Bob's password"
    assert command, "the demo prints how to get Bob's code"
    with httpx.Client(base_url=url, timeout=10) as browser:
        form = browser.get("/signin/")
        step = browser.post(
            "/signin/",
            data={
                "csrfmiddlewaretoken": _field(form.text, "csrfmiddlewaretoken"),
                "email": "bob@demo.example",
                "password": password.group(1),
            },
        )
        assert step.status_code == 302, step.text
        assert step.headers["location"] == "/signin/verify/"
        ask = browser.get("/signin/verify/")
        assert ask.status_code == 200
        assert "Enter the code from your authenticator app" in ask.text

        # The command the demo printed gives Bob's current code (±1 step is accepted).
        code = subprocess.run(
            shlex.split(command.group(0)), capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        done = browser.post(
            "/signin/verify/",
            data={"csrfmiddlewaretoken": _field(ask.text, "csrfmiddlewaretoken"), "code": code},
        )
        assert done.status_code == 302, done.text
        assert done.headers["location"] == "/security-info/"
        info = browser.get("/security-info/")
        assert info.status_code == 200
        assert "Authenticator app code" in info.text


def test_helen_reaches_the_helpdesk_only_with_the_printed_code(demo: tuple[str, str, Path]) -> None:
    """Staff always use a second factor: the demo gives helen an authenticator app, printed
    like bob's, and her password alone opens no helpdesk page."""
    url, printed, _data_dir = demo
    password = re.search(r"helen@demo\.example\s+(\S+)", printed)
    command = re.search(r"^\s+helen\s+key .*code: (oathtool --totp -b \S+)", printed, re.M)
    assert password, "the demo prints helen's password"
    assert command, "the demo prints how to get helen's code"
    with httpx.Client(base_url=url, timeout=10) as browser:
        form = browser.get("/signin/")
        step = browser.post(
            "/signin/",
            data={
                "csrfmiddlewaretoken": _field(form.text, "csrfmiddlewaretoken"),
                "email": "helen@demo.example",
                "password": password.group(1),
            },
        )
        assert step.headers["location"] == "/signin/verify/"
        # The second step skipped: the helpdesk sends her back to sign in.
        assert browser.get("/helpdesk/").headers["location"].startswith("/signin/")
        ask = browser.get("/signin/verify/")
        code = subprocess.run(
            shlex.split(command.group(1)), capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        done = browser.post(
            "/signin/verify/",
            data={"csrfmiddlewaretoken": _field(ask.text, "csrfmiddlewaretoken"), "code": code},
        )
        assert done.status_code == 302, done.text
        desk = browser.get("/helpdesk/")
        assert desk.status_code == 200
        assert "Find a person" in desk.text
