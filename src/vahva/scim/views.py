"""``/scim/v2/...``: one view in front of scim2-server's handler.

Thin: authenticate the client's bearer token, read the body under a size limit, run the
operation in one transaction, answer ``application/scim+json``. Every refusal is a SCIM error
(RFC 7644 §3.12) with its ``scimType``; a 401 names the Bearer scheme.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from scim2_models import PayloadTooLargeException, SCIMException, UnauthorizedException
from scim2_server.handler import ScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.responses import SCIM_MEDIA_TYPE, ScimResponse

from vahva import clock
from vahva.conf import settings

from . import provider, tokens
from .models import ProvisioningClient
from .people import Writer
from .storage import VahvaStorage

log = logging.getLogger(__name__)

PREFIX = "/scim/v2"


def _client(request: HttpRequest) -> ProvisioningClient:
    scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
    client = tokens.authenticate(token, now=clock.now()) if scheme.lower() == "bearer" else None
    if client is None:
        raise UnauthorizedException(detail="A valid provisioning bearer token is required")
    return client


def _body(request: HttpRequest) -> bytes:
    # Memory exhaustion by a huge body: the declared length is refused before reading.
    limit = int(settings.SCIM_MAX_BODY)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    too_large = PayloadTooLargeException(detail=f"The request is larger than {limit} bytes")
    if declared > limit:
        raise too_large
    try:
        body = request.body
    except RequestDataTooBig:
        raise too_large from None
    if len(body) > limit:
        raise too_large
    return body


def _serve(request: HttpRequest, path: str) -> ScimResponse:
    service = provider.service()
    client = _client(request)
    scim_request = ScimRequest(
        method=request.method or "GET",
        base_url=request.build_absolute_uri(PREFIX),
        path="/" + path.removesuffix(".scim"),
        query={name: str(value) for name, value in request.GET.items()},
        headers=dict(request.headers.items()),
        body=_body(request),
        subject=client,
    )
    handler = ScimHandler(service, VahvaStorage(Writer(client=client, request=request)))
    with transaction.atomic():
        return handler.handle(scim_request)


@csrf_exempt  # a bearer-token API: no cookie, so no cross-site request to forge
def endpoint(request: HttpRequest, path: str = "") -> HttpResponse:
    service = provider.service()
    try:
        response = _serve(request, path)
    except SCIMException as exc:
        response = service.error_response(exc)
    except Exception as exc:  # a bug: the client gets a SCIM 500, the log the traceback
        log.exception("SCIM request failed")
        response = service.error_response(exc)
    return _http(response)


def _http(response: ScimResponse) -> HttpResponse:
    content: Any = b"" if response.body is None else json.dumps(response.body)
    http = HttpResponse(content, status=int(response.status), content_type=SCIM_MEDIA_TYPE)
    for name, value in response.headers.items():
        if name.lower() != "content-type":
            http[name] = value
    http["Cache-Control"] = "no-store"
    return http
