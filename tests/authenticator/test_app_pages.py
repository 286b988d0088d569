"""The vahva app's files as the server serves them: the shell (/app/ and the QR link's
/app/enroll), the web app manifest and the service worker, with the headers that make them
installable and safe. What the app does in a browser is tested in tests/e2e/test_push_app.py."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from tests.helpers import text

pytestmark = pytest.mark.django_db

SHELL_PAGES = ("/app/", "/app/enroll")


class _Markup(HTMLParser):
    """Scripts, style attributes, inline handlers and ids of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_scripts: list[str] = []
        self.styles: list[str] = []
        self.handlers: list[str] = []
        self.ids: set[str] = set()
        self.links: list[dict[str, str | None]] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        for name, _value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"{tag}[{name}]")
            if name == "style":
                self.styles.append(tag)
        if tag == "style":
            self.styles.append("<style>")
        if tag == "script":
            self.scripts.append(attributes)
            self._in_script = True
        if tag == "link":
            self.links.append(attributes)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data.strip())


def markup(response: Any) -> _Markup:
    parser = _Markup()
    parser.feed(text(response))
    return parser


def static_text(name: str) -> str:
    found = finders.find(name)
    assert isinstance(found, str), name
    with open(found, encoding="utf-8") as handle:
        return handle.read()


@pytest.mark.parametrize("path", SHELL_PAGES)
def test_shell_pages_are_private_and_script_free(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    # The enrolment code is in the fragment; the page is kept nowhere and leaks no Referer.
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "unsafe-inline" not in csp
    page = markup(response)
    assert page.inline_scripts == []
    assert page.handlers == []
    assert page.styles == []
    assert [s.get("type") for s in page.scripts] == ["module"]
    assert page.scripts[0]["src"] == "/static/authenticator/app.js"
    assert {"rel": "manifest", "href": "/app/manifest.webmanifest"} in page.links


def test_the_enrolment_page_is_the_app(client: Client) -> None:
    body = text(client.get("/app/enroll"))
    assert "<title>Add your account to the vahva app · Demo University</title>" in body
    assert 'id="enrol-form"' in body
    assert 'data-enroll="/app/enroll"' in body
    assert 'data-api="/api/device/v1"' in body
    # Desktop users can still give the same link to the command-line client.
    assert "vahva authenticator enroll" in body
    assert "<title>vahva app · Demo University</title>" in text(client.get("/app/"))


def test_the_shell_needs_no_session_and_takes_no_posts(client: Client) -> None:
    assert client.get("/app/").cookies == {}
    assert client.post("/app/").status_code == 405
    assert client.post("/app/enroll").status_code == 405


def test_the_shell_is_in_the_persons_language(client: Client) -> None:
    response = client.get("/app/", headers={"accept-language": "fi"})
    assert '<html lang="fi">' in text(response)


def test_every_element_and_text_the_script_uses_is_on_the_page(client: Client) -> None:
    """The script finds its elements by id and its texts in #texts: a renamed id or a text
    left out of the template would fail only in a browser, so check them here."""
    page = markup(client.get("/app/"))
    script = static_text("authenticator/app.js")
    ids = set(re.findall(r'\$\("([\w-]+)"\)', script))
    assert ids
    assert ids <= page.ids, ids - page.ids
    texts = set(re.findall(r'text\("([\w-]+)"\)', script))
    body = text(client.get("/app/"))
    for name in texts:
        assert re.search(rf'data-text="{name}">[^<]+<', body), name
    # The location codes the device API sends have a text each.
    assert 'data-text="location-this-computer"' in body
    assert 'data-text="location-local-network"' in body


def test_the_scripts_hold_no_visible_text() -> None:
    """All wording lives in the template (so it is translated); the scripts only show, hide
    and fill elements. A sentence in a string literal would be untranslatable."""
    for name in ("app.js", "device.js", "otp.js", "stream.js"):
        script = static_text(f"authenticator/{name}")
        code = re.sub(r"//[^\n]*|/\*.*?\*/", "", script, flags=re.S)
        sentences = re.findall(r'"([A-Z][a-z]+ [a-z]+[^"]*)"', code)
        assert sentences == [], (name, sentences)


def test_the_manifest_makes_the_app_installable(client: Client) -> None:
    response = client.get("/app/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/manifest+json")
    manifest = json.loads(response.content)
    assert manifest["start_url"] == "/app/"
    assert manifest["scope"] == "/app/"
    assert manifest["id"] == "/app/"
    assert manifest["display"] == "standalone"
    assert manifest["short_name"] == "vahva"
    assert "Demo University" in manifest["description"]
    assert [icon["purpose"] for icon in manifest["icons"]] == ["any", "maskable"]
    icon = manifest["icons"][0]
    assert icon["type"] == "image/svg+xml"
    image = client.get(icon["src"])
    assert image.status_code == 200
    assert b"<svg" in b"".join(image.streaming_content)  # type: ignore[attr-defined]


def test_the_service_worker_is_served_for_the_apps_scope(client: Client) -> None:
    response = client.get("/app/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Service-Worker-Allowed"] == "/app/"
    assert response["Cache-Control"] == "no-cache"
    # A worker runs under the policy delivered with its script.
    csp = response["Content-Security-Policy"]
    assert "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp
    body = text(response)
    for event in ("install", "activate", "fetch", "push", "notificationclick"):
        assert f'addEventListener("{event}"' in body
    assert "showNotification" in body
    assert _js_string(body, "title") == "Sign-in request"
    assert "{% " not in body
    assert "{{" not in body


def _js_string(body: str, name: str) -> str:
    """The value of ``name: "..."`` in the worker (escapejs output is valid JSON)."""
    match = re.search(rf'^  {name}: ("[^"\n]*"),$', body, re.M)
    assert match, name
    value: str = json.loads(match.group(1))
    return value


def _shell_of(body: str) -> list[str]:
    match = re.search(r"^const SHELL = (\[.*\]);$", body, re.M)
    assert match, body
    shell: list[str] = json.loads(match.group(1))
    return shell


def test_the_service_worker_keeps_a_shell_that_exists(client: Client) -> None:
    body = text(client.get("/app/sw.js"))
    shell = _shell_of(body)
    assert shell[0] == "/app/"
    # Every module the app imports is kept, or the app would not start offline.
    imported = re.findall(r'from "\./([\w.]+)"', static_text("authenticator/app.js"))
    imported += re.findall(r'from "\./([\w.]+)"', static_text("authenticator/device.js"))
    imported += re.findall(r'from "\./([\w.]+)"', static_text("authenticator/stream.js"))
    for module in imported:
        assert f"/static/authenticator/{module}" in shell, module
    for url in shell:
        assert client.get(url).status_code == 200, url
    assert re.search(r'^const VERSION = "[0-9a-f]{16}";$', body, re.M)


def test_the_service_worker_version_follows_the_shell(
    client: Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """A changed app file changes the worker's bytes, so phones install the new worker."""
    from vahva.authenticator import views

    before = text(client.get("/app/sw.js"))
    changed = tmp_path / "app.js"
    changed.write_text("// a new version\n")
    real_find = finders.find

    def find(name: str, *args: Any, **kwargs: Any) -> Any:
        return str(changed) if name == "authenticator/app.js" else real_find(name, *args, **kwargs)

    monkeypatch.setattr(views.finders, "find", find)
    after = text(client.get("/app/sw.js"))
    assert before != after
    assert before.replace(re.findall(r'VERSION = "(\w+)"', before)[0], "") == after.replace(
        re.findall(r'VERSION = "(\w+)"', after)[0], ""
    )


def test_the_worker_escapes_its_texts(client: Client) -> None:
    """Translated texts go into JavaScript strings escaped, never as code; the organisation's
    name is put in by the worker from the push's payload."""
    body = text(client.get("/app/sw.js"))
    assert _js_string(body, "body").startswith("{organisation} asks you to approve a sign-in")
    assert "\\u002D" in body  # escapejs: no character of a text can end the string
