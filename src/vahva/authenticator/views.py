"""The authenticator room's pages: the installable vahva app (its shell, web app manifest and
service worker), where an enrolment QR link lands, and the status the computer's enrolment
page polls.

The app itself is static: its state (device keys, accounts) lives in the phone's IndexedDB and
it talks to the signed device API only. These views serve files with the headers that make
them safe and installable; they read nothing about the person.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from vahva import clock
from vahva.conf import settings

from . import service

#: The app's scope: the service worker controls these pages and nothing else on the site.
SCOPE = "/app/"
#: The app's own files, kept by the service worker so that the app opens without a network.
SHELL_STATIC = (
    "authenticator/app.js",
    "authenticator/device.js",
    "authenticator/otp.js",
    "authenticator/stream.js",
    "authenticator/app.css",
    "authenticator/icon.svg",
    "vahva/vahva.css",
)


def _private(response: HttpResponse) -> HttpResponse:
    # The enrolment code rides in the URL fragment: no shared cache or history may keep the
    # page, and no Referer may carry its address to another site.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _shell(request: HttpRequest, *, enrolling: bool) -> HttpResponse:
    # Assigned first: xgettext does not read _() inside an f-string, so it was never translated.
    address = _("address of this page")
    command = f"vahva authenticator enroll '{address}'"
    context = {
        "enrolling": enrolling,
        "command": command,
        # Without the slash: the app appends "/pending", "/answer"... and signs that path.
        "api_root": reverse("device-api:api-root").rstrip("/"),
        "service_worker": reverse("authenticator_sw"),
        "scope": SCOPE,
    }
    return _private(render(request, "authenticator/app.html", context))


@require_GET
def app_page(request: HttpRequest) -> HttpResponse:
    """``/app/``: the vahva app's shell (requests, accounts, offline codes)."""
    return _shell(request, enrolling=False)


@require_GET
def enroll_page(request: HttpRequest) -> HttpResponse:
    """``/app/enroll#<code>``: where the QR link lands. The code stays in the fragment, which
    browsers never send to the server, so it is in no access log; the app reads it there."""
    return _shell(request, enrolling=True)


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    """The web app manifest (W3C Web Application Manifest): what makes the app installable."""
    organisation = str(settings.ORGANISATION_NAME)
    body = {
        "id": SCOPE,
        "name": _("vahva sign-in app"),
        "short_name": "vahva",
        "description": _("Approve sign-ins to %(organisation)s with your phone.")
        % {"organisation": organisation},
        "lang": get_language() or "en",
        "start_url": SCOPE,
        "scope": SCOPE,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#f3f5f7",
        "theme_color": "#0b5c8a",
        # One drawing for both: its background fills the square and the shield stays inside
        # the maskable safe zone (the middle 80 %), so a launcher may crop it to any shape.
        "icons": [
            {
                "src": static("authenticator/icon.svg"),
                "sizes": "any",
                "type": "image/svg+xml",
                "purpose": purpose,
            }
            for purpose in ("any", "maskable")
        ],
    }
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, indent=1),
        content_type="application/manifest+json; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    return response


def _shell_version(files: list[str]) -> str:
    """A digest of the shell's files: a changed file changes the worker's bytes, so browsers
    install the new worker and it replaces the old cache."""
    digest = hashlib.sha256()
    for name in files:
        found = finders.find(name)
        if isinstance(found, str):
            with open(found, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()[:16]


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """``/app/sw.js``: the app's service worker (offline shell, Web Push notifications).

    Served from ``/app/`` rather than ``/static/`` because a worker's scope can be no wider
    than its own folder; ``Service-Worker-Allowed`` says so explicitly as well.
    """
    context = {
        "version": _shell_version(list(SHELL_STATIC)),
        "shell": json.dumps([SCOPE, *(static(name) for name in SHELL_STATIC)]),
        "scope": SCOPE,
        "icon": static("authenticator/icon.svg"),
    }
    response = render(
        request,
        "authenticator/sw.js",
        context,
        content_type="text/javascript; charset=utf-8",
    )
    response["Service-Worker-Allowed"] = SCOPE
    # Browsers check for a new worker on every visit; no cache may answer that check.
    response["Cache-Control"] = "no-cache"
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
