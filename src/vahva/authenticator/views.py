"""The authenticator room's pages: where an enrolment QR link lands, and the status the
computer's enrolment page polls."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from vahva import clock

from . import service


@require_GET
def enroll_page(request: HttpRequest) -> HttpResponse:
    """``/app/enroll#<code>``: the code stays in the fragment, which browsers never send to the
    server, so it is not in any access log. The installable app will live here; until then the
    page explains how to enrol with the command-line client."""
    command = f"vahva authenticator enroll '{_('address of this page')}'"
    response = render(request, "authenticator/enroll.html", {"command": command})
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
def enrol_status(request: HttpRequest, enrolment: uuid.UUID) -> JsonResponse:
    """Where the signed-in person's enrolment is (polled by the enrolment page).

    Read-only and limited to the person's own enrolments; finishing still needs the pending
    enrolment kept in this browser's session.
    """
    if not request.user.is_authenticated:
        return JsonResponse({"state": "signed_out"}, status=401)
    status = service.enrolment_status(request.user, enrolment, now=clock.now())
    response = JsonResponse(status.as_json())
    response["Cache-Control"] = "no-store"
    return response
