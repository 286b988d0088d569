"""Logs as JSON lines, each with the id of the request it was written for.

- :class:`RequestIdMiddleware` gives every request an id: the ``X-Request-ID`` a trusted
  reverse proxy (VAHVA["TRUSTED_PROXIES"]) sent, when it is well formed, else a random one.
  The id is kept in a context variable for the request's duration and sent back in the
  response's ``X-Request-ID``, so one id ties the proxy's access log, vahva's lines and what a
  person reports ("the page said request 4f1c…") together.
- :class:`JsonFormatter` writes one JSON object per line: time, level, logger, message, the
  request id, an exception's traceback, and the record's own ``extra`` fields.

``LOGGING`` in the settings picks them; :func:`uvicorn_log_config` does the same for the
ASGI server's own lines.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import ipaddress
import json
import logging
import re
import secrets
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
#: What an id from the proxy may look like: nginx's $request_id (32 hex digits), a UUID, and
#: the like. Anything else (a newline, quotes, a kilobyte) is replaced: log forging through a
#: header the client may have written.
WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("vahva_request_id", default="")

#: The attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def current_request_id() -> str:
    """The id of the request being served here ("" outside a request)."""
    return _request_id.get()


def new_request_id() -> str:
    return secrets.token_hex(16)


def _from_trusted_proxy(peer: str | None) -> bool:
    from vahva.proxies import trusted_proxies

    try:
        address = ipaddress.ip_address((peer or "").strip())
    except ValueError:
        return False
    return any(address in block for block in trusted_proxies())


def request_id_for(request: HttpRequest) -> str:
    """The proxy's ``X-Request-ID`` when a trusted proxy sent a well-formed one, else new.

    Spoofing: anyone can send the header, and an id chosen by a client could make its
    requests look like someone else's in the logs; only a trusted proxy's is kept.
    """
    given = request.META.get("HTTP_X_REQUEST_ID", "")
    if (
        given
        and WELL_FORMED.fullmatch(given)
        and _from_trusted_proxy(request.META.get("REMOTE_ADDR"))
    ):
        return str(given)
    return new_request_id()


class RequestIdMiddleware:
    """Set the request id (``request.request_id``, the context variable, the response
    header); first in MIDDLEWARE, so every line written for the request carries it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            # The thread serves other requests next: the id must not stick to their lines.
            _request_id.reset(token)
        response[HEADER] = request_id
        return response


class JsonFormatter(logging.Formatter):
    """One JSON object per line. JSON escaping also keeps a newline or a quote that a request
    smuggled into a message from starting a forged line of its own."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            line["request_id"] = request_id
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in line and not name.startswith("_"):
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """Django's ``LOGGING``: JSON lines on the console (standard error)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "vahva.logs.JsonFormatter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "WARNING"}},
    }


def uvicorn_log_config(level: str = "INFO") -> dict[str, Any]:
    """uvicorn's ``log_config``: its start-up and access lines as JSON too."""
    config = logging_config(level)
    config["loggers"] = {
        name: {"handlers": ["console"], "level": level, "propagate": False}
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
    }
    return config
