"""The validation API, ``/api/validate/v1`` (django-ninja; OpenAPI at ``openapi.json``).

Thin: authenticate the client's key, parse, call :func:`.service.check`, shape the answer.
Every refusal is a JSON body ``{"error": <code>, "message": <text>}`` with a 4xx status.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import Field, NinjaAPI, Schema
from ninja.security.base import AuthBase

from vahva import clock, jsonapi
from vahva.errors import (
    InvalidCode,
    Locked,
    MalformedInput,
    RateLimited,
    ReplayedCode,
    VahvaError,
)

from . import clients, service
from .models import ApiClient

#: A check is a few dozen bytes; anything bigger is refused before it is parsed.
MAX_BODY = 4 * 1024

DESCRIPTION = """\
Checks a person's one-time code for a RADIUS server, a VPN gateway or a script.

`POST /check` with `{"user": "<e-mail address>", "code": "123456"}` and the header
`Authorization: Bearer <API key>` (an administrator makes one with
`vahva validate-client add NAME`). The code is the person's authenticator app code or the
vahva app's offline code. A code is accepted once: the same code is refused afterwards,
here and at a sign-in. Wrong codes are throttled per person like a sign-in's.

**Accept only a 200 answer with `"accepted": true`.** Anything else is a refusal:
`{"error": code, "message": text}` with a 4xx status (400 `invalid`, `replayed` or
`malformed`; 401 `unauthorized`; 413 `too_large`; 423 `locked`; 429 `rate_limited`, with
`Retry-After`).
"""


class Unauthorized(VahvaError):
    status = 401
    code: ClassVar[str] = "unauthorized"
    default_message = _("The API key is missing or not valid.")


class BodyTooLarge(VahvaError):
    status = 413
    code: ClassVar[str] = "too_large"
    default_message = _("The request is too large.")


#: The API's names for vahva's general errors (by an error's nearest ancestor here).
GENERAL_CODES: dict[type[VahvaError], str] = {
    ReplayedCode: "replayed",
    InvalidCode: "invalid",
    MalformedInput: "malformed",
    Locked: "locked",
    RateLimited: "rate_limited",
}


def code_of(exc: VahvaError) -> str:
    return jsonapi.error_code(exc, GENERAL_CODES)


class ApiKey(AuthBase):
    """``Authorization: Bearer <key>``; ``request.auth`` is then the :class:`ApiClient`.

    (Not ninja's HttpBearer: under DEBUG it logs a header with another scheme, which may be
    the key sent the wrong way.)
    """

    openapi_type = "http"
    openapi_scheme = "bearer"

    def __call__(self, request: HttpRequest) -> ApiClient | None:
        scheme, _space, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return clients.authenticate(key, now=clock.now())


api = NinjaAPI(
    title="vahva validation API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="validate-api",
    docs_url=None,  # the interactive docs load scripts from a CDN, which the CSP forbids
    parser=jsonapi.limited_parser(MAX_BODY, BodyTooLarge),
)


def _www_authenticate(exc: VahvaError) -> dict[str, str]:
    # RFC 6750 §3: a 401 names the scheme the client should use.
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": 'Bearer realm="vahva validation API"'}
    return {}


_error = jsonapi.install_errors(
    api,
    code_of=code_of,
    too_large=BodyTooLarge,
    unauthenticated=Unauthorized,
    headers=_www_authenticate,
)


class CheckBody(Schema):
    user: str = Field(max_length=254, description="The person's e-mail address.")
    code: str = Field(max_length=64, description="The 6-digit code the person typed.")


class CheckOut(Schema):
    accepted: bool
    user: str = Field(description="The person's e-mail address, as vahva keeps it.")
    method: str = Field(
        description="Which of the person's methods the code came from (its kind: an "
        "authenticator app, the vahva app's offline code, a hardware token)."
    )


class ErrorOut(Schema):
    error: str
    message: str


@api.post(
    "/check",
    auth=ApiKey(),
    response={200: CheckOut, 400: ErrorOut, 401: ErrorOut, 413: ErrorOut, 423: ErrorOut},
    summary="Check a person's code",
)
def check(request: HttpRequest, payload: CheckBody) -> dict[str, Any]:
    """Accept the code once, or refuse it with a 4xx and an error code."""
    client: ApiClient = request.auth  # type: ignore[attr-defined]
    accepted = service.check(request, client, email=payload.user, code=payload.code)
    return {"accepted": True, "user": accepted.user.email, "method": accepted.method}
