"""What vahva's JSON APIs (the device API, the validation API) share: a body size limit
checked before parsing, and one error shape, ``{"error": code, "message": text}`` with a 4xx
status, for every failure django-ninja or vahva can raise."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from vahva.errors import MalformedInput, RateLimited, VahvaError

Refusal = Callable[[], VahvaError]


def error_code(exc: VahvaError, general: Mapping[type[VahvaError], str]) -> str:
    """The machine-readable code of ``exc``: its own ``code``, else that of its nearest
    ancestor in ``general`` (an API's names for vahva's general errors)."""
    own = getattr(type(exc), "code", None)
    if isinstance(own, str):
        return own
    for cls in type(exc).__mro__:
        if cls in general:
            return general[cls]
    return "rate_limited" if exc.status == 429 else "bad_request"


def limited_body(request: HttpRequest, limit: int, too_large: Refusal) -> bytes:
    """The request's body, or ``too_large()`` raised before a byte more than ``limit`` is
    read (memory exhaustion by a huge body: the declared length is checked first)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large()
    body = request.body
    if len(body) > limit:
        raise too_large()
    return body


def limited_parser(limit: int, too_large: Refusal) -> Parser:
    """A ninja parser that applies :func:`limited_body` before parsing JSON."""

    class LimitedParser(Parser):
        def parse_body(self, request: HttpRequest) -> Any:
            limited_body(request, limit, too_large)
            return super().parse_body(request)

    return LimitedParser()


def install_errors(
    api: NinjaAPI,
    *,
    code_of: Callable[[VahvaError], str],
    too_large: Refusal,
    unauthenticated: Refusal,
    headers: Callable[[VahvaError], dict[str, str]] | None = None,
) -> Callable[[HttpRequest, VahvaError], HttpResponse]:
    """Answer every failure on ``api`` in the one shape; returns the function that renders
    an error (for endpoints that build their own)."""

    def error(request: HttpRequest, exc: VahvaError) -> HttpResponse:
        response = api.create_response(
            request, {"error": code_of(exc), "message": str(exc.message)}, status=exc.status
        )
        if isinstance(exc, RateLimited):
            response["Retry-After"] = str(exc.retry_after)
        for name, value in (headers(exc) if headers else {}).items():
            response[name] = value
        return response

    def vahva_error(request: HttpRequest, exc: VahvaError) -> HttpResponse:
        return error(request, exc)

    def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        # Where and what, without echoing the input (a code, a key) back.
        fields = [
            {
                "field": ".".join(str(part) for part in problem.get("loc", ())),
                "problem": problem.get("msg"),
            }
            for problem in exc.errors[:10]
        ]
        body = {
            "error": "malformed",
            "message": str(MalformedInput.default_message),
            "fields": fields,
        }
        return api.create_response(request, body, status=400)

    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        cause = exc.__cause__
        if isinstance(cause, VahvaError):
            return error(request, cause)
        if isinstance(cause, RequestDataTooBig):
            return error(request, too_large())
        if isinstance(exc, AuthenticationError):
            return error(request, unauthenticated())
        # Not JSON, not UTF-8, ...: the same answer as a malformed field.
        refusal = MalformedInput(str(exc)) if exc.status_code == 400 else VahvaError(str(exc))
        refusal.status = exc.status_code
        return error(request, refusal)

    def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return error(request, too_large())

    api.exception_handler(VahvaError)(vahva_error)
    api.exception_handler(ValidationError)(invalid)
    api.exception_handler(HttpError)(http_error)
    api.exception_handler(RequestDataTooBig)(too_big)
    return error
