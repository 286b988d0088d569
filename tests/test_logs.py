"""JSON-lines logs with a request id: the formatter, and the middleware that picks the id
(a trusted proxy's well-formed X-Request-ID, else a random one)."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from vahva import logs

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"
NGINX_ID = "4f1c9a7e0b2d4c6e8f0a1b3c5d7e9f01"


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """vahva's JSON logging, as the settings configure it, into a buffer."""
    stream = io.StringIO()
    config = logs.logging_config()
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)
    yield stream
    restore_logging()


def restore_logging() -> None:
    """Back to the test settings' LOGGING, for the tests that run next."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture
def middleware(settings: Any) -> logs.RequestIdMiddleware:
    settings.VAHVA = {**settings.VAHVA, "TRUSTED_PROXIES": [PROXY]}
    seen: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        logging.getLogger("vahva.test").info("inside the view")
        seen.append(logs.current_request_id())
        return HttpResponse("ok")

    handler = logs.RequestIdMiddleware(view)
    handler.seen = seen  # type: ignore[attr-defined]
    return handler


# --- the formatter -------------------------------------------------------------------------


def test_one_json_object_per_line(lines: io.StringIO) -> None:
    logging.getLogger("vahva.test").warning("Sign-in for %s failed", "alice@example.org")
    (line,) = parsed(lines)
    assert line["level"] == "WARNING"
    assert line["logger"] == "vahva.test"
    assert line["message"] == "Sign-in for alice@example.org failed"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])
    assert "request_id" not in line  # outside a request


def test_a_forged_line_stays_inside_its_message(lines: io.StringIO) -> None:
    """Log forging: a newline and JSON typed into a field do not start a line of their own."""
    sneaky = 'x"}\n{"level": "INFO", "message": "admin signed in"}'
    logging.getLogger("vahva.test").warning("unknown address %s", sneaky)
    (line,) = parsed(lines)
    assert line["message"] == f"unknown address {sneaky}"


def test_extra_fields_and_exceptions(lines: io.StringIO) -> None:
    log = logging.getLogger("vahva.test")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("it failed", extra={"attempt": "a1", "count": 3, "when": object})
    (line,) = parsed(lines)
    assert line["attempt"] == "a1"
    assert line["count"] == 3
    assert "object" in line["when"]  # not JSON: written as text, not an error
    assert "ValueError: boom" in line["exc"]
    assert line["exc"].startswith("Traceback")


def test_non_ascii_is_kept(lines: io.StringIO) -> None:
    logging.getLogger("vahva.test").info("Käyttäjä äö")
    assert parsed(lines)[0]["message"] == "Käyttäjä äö"


def test_the_uvicorn_configuration_writes_json_too() -> None:
    config = logs.uvicorn_log_config()
    stream = io.StringIO()
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/signin/", "1.1", 200
        )
    finally:
        restore_logging()
    (line,) = parsed(stream)
    assert line["logger"] == "uvicorn.access"
    assert line["message"] == '127.0.0.1:5000 - "GET /signin/ HTTP/1.1" 200'


# --- the request id ------------------------------------------------------------------------


def test_every_request_gets_a_random_id(
    middleware: logs.RequestIdMiddleware, lines: io.StringIO
) -> None:
    factory = RequestFactory()
    first = middleware(factory.get("/"))
    second = middleware(factory.get("/"))
    assert re.fullmatch(r"[0-9a-f]{32}", first[logs.HEADER])
    assert first[logs.HEADER] != second[logs.HEADER]
    # The view's log lines carry the id the response names.
    assert [line["request_id"] for line in parsed(lines)] == [
        first[logs.HEADER],
        second[logs.HEADER],
    ]
    # And it does not stick to what runs after the request.
    assert logs.current_request_id() == ""


def test_a_trusted_proxys_id_is_kept(middleware: logs.RequestIdMiddleware) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_REQUEST_ID=NGINX_ID)
    assert middleware(request)[logs.HEADER] == NGINX_ID
    assert request.request_id == NGINX_ID  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "given",
    [
        "short",
        "x" * 129,
        "has space in it 1234",
        'quote"1234567890',
        "new\nline12345678",
        "-starts-with-a-dash",
        "ääääääääääää",
        "",
    ],
)
def test_a_malformed_id_from_the_proxy_is_replaced(
    middleware: logs.RequestIdMiddleware, given: str
) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_REQUEST_ID=given)
    got = middleware(request)[logs.HEADER]
    assert got != given
    assert re.fullmatch(r"[0-9a-f]{32}", got)


def test_anyone_elses_id_is_replaced(middleware: logs.RequestIdMiddleware) -> None:
    """Spoofing: a client choosing its id could pass its requests off as someone else's."""
    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.7", HTTP_X_REQUEST_ID=NGINX_ID)
    assert middleware(request)[logs.HEADER] != NGINX_ID


def test_uuids_are_well_formed() -> None:
    assert logs.WELL_FORMED.fullmatch("0b8e2a52-5c1e-4c3e-9d2a-3f6b1e2d4c5a")
    assert logs.WELL_FORMED.fullmatch(NGINX_ID)


def test_through_the_whole_stack(settings: Any, lines: io.StringIO) -> None:
    """With the middleware first in MIDDLEWARE: every page's answer names its request."""
    settings.MIDDLEWARE = ["vahva.logs.RequestIdMiddleware", *settings.MIDDLEWARE]
    response = Client().get("/signin/")
    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", response[logs.HEADER])
    missing = Client().get("/no-such-page/")
    assert missing.status_code == 404
    assert missing[logs.HEADER] != response[logs.HEADER]


def test_a_failing_view_still_resets_the_id() -> None:
    def broken(request: HttpRequest) -> HttpResponse:
        raise RuntimeError("broken")

    with pytest.raises(RuntimeError):
        logs.RequestIdMiddleware(broken)(RequestFactory().get("/"))
    assert logs.current_request_id() == ""


def test_the_formatter_is_a_formatter() -> None:
    record = logging.LogRecord("vahva", logging.INFO, __file__, 1, "hello", None, sys.exc_info())
    assert json.loads(logs.JsonFormatter().format(record))["message"] == "hello"
