"""Security headers and the client's address."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

from vahva import proxies
from vahva.signin import requirements


def content_security_policy(form_targets: Iterable[str] = ()) -> str:
    """The pages' policy; ``form_targets`` are sources a form's redirects may also end at."""
    # No inline script or style anywhere, so the policy needs no 'unsafe-inline': an injected
    # <script> or style attribute does not run (XSS). QR codes are data: images.
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            " ".join(["form-action 'self'", *sorted(set(form_targets))]),
            "frame-ancestors 'none'",
        ]
    )


CONTENT_SECURITY_POLICY = content_security_policy()
_FORM_TARGETS = "vahva_form_targets"


def csp_source(url: str) -> str | None:
    """The CSP source for ``url``'s origin (or custom scheme); None if it cannot be one."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        return None
    if scheme in ("http", "https"):
        # Only plain host names and addresses: nothing that could add a directive.
        if not re.fullmatch(r"[a-z0-9.-]+", host):
            return None
        return f"{scheme}://{host}" + (f":{port}" if port else "")
    if re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
        return f"{scheme}:"
    return None


def allow_form_target(request: HttpRequest, url: str) -> None:
    """Let this page's forms lead, through redirects, to ``url`` (a validated service address).

    CSP form-action also applies to every redirect that follows a form post (Chromium), and
    a sign-in or sign-out for a service ends with a redirect to the service's own address.
    """
    source = csp_source(url)
    if source:
        setattr(request, _FORM_TARGETS, [*getattr(request, _FORM_TARGETS, []), source])


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        targets = list(getattr(request, _FORM_TARGETS, []))
        if hasattr(request, "session") and response.get("Content-Type", "").startswith("text/html"):
            # While a service waits for this sign-in, every page of it may end there.
            target = csp_source(requirements.return_to(request))
            if target:
                targets.append(target)
        response.setdefault("Content-Security-Policy", content_security_policy(targets))
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.path.startswith(
            ("/signin", "/security-info", "/signout", "/admin", "/helpdesk")
        ):
            # Pages with personal data or forms must not be kept by shared caches or history.
            response.setdefault("Cache-Control", "no-store")
        return response


class RequestHygieneMiddleware:
    """First of all middleware: what no view should ever see.

    - ``X-Forwarded-Proto`` from a peer that is not a trusted proxy is dropped: anyone can send
      it, and ``request.is_secure()`` (Secure cookies, https redirects) believes it.
    - A NUL byte anywhere in the query or a form or JSON body is refused with a 400: no field
      needs one, and PostgreSQL cannot store one (a 500, and a way to probe for the database).
    """

    _NUL = re.compile(rb"%00|\x00|\\u0000", re.IGNORECASE)

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not proxies.is_trusted_proxy(request.META.get("REMOTE_ADDR")):
            request.META.pop("HTTP_X_FORWARDED_PROTO", None)
        query = request.META.get("QUERY_STRING", "").encode("latin-1", "replace")
        try:
            body = request.body if request.method in ("POST", "PUT", "PATCH") else b""
        except RequestDataTooBig:
            body = b""  # the view answers it (413) as it always has
        if self._NUL.search(query) or self._NUL.search(body):
            return self._refused(request)
        return self.get_response(request)

    @staticmethod
    def _refused(request: HttpRequest) -> HttpResponse:
        message = "The request contains a NUL byte."
        if request.path.startswith("/api/"):
            # The APIs' own error shape: {"error": code, "message": text}.
            return JsonResponse({"error": "malformed", "message": message}, status=400)
        if request.path.startswith("/o/") and not request.path.startswith("/o/authorize"):
            # OAuth 2.0's (RFC 6749 §5.2) for the token, revocation and userinfo endpoints.
            return JsonResponse(
                {"error": "invalid_request", "error_description": message}, status=400
            )
        from django.shortcuts import render
        from django.utils.translation import gettext as _

        return render(
            request,
            "web/error.html",
            {
                "title": _("Bad request"),
                "message": _("The request contains a NUL character, which is never allowed."),
            },
            status=400,
        )


class ClientAddressMiddleware:
    """Set ``request.client_ip``: the socket's peer, or the client a trusted proxy names.

    ``X-Forwarded-For`` counts only when the peer is one of VAHVA["TRUSTED_PROXIES"]: anyone
    can send the header, so believing it from others would let an attacker choose the address
    the throttle and the policy see (and claim to be on campus).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.client_ip = proxies.client_address(  # type: ignore[attr-defined]
            request.META.get("REMOTE_ADDR") or None,
            request.META.get("HTTP_X_FORWARDED_FOR", ""),
        )
        return self.get_response(request)
