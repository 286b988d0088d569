"""Security headers and the client's address."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# No inline script or style anywhere, so the policy needs no 'unsafe-inline': an injected
# <script> or style attribute does not run (XSS). QR codes are data: images.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.path.startswith(("/signin", "/security-info", "/signout", "/admin")):
            # Pages with personal data or forms must not be kept by shared caches or history.
            response.setdefault("Cache-Control", "no-store")
        return response


class ClientAddressMiddleware:
    """Set ``request.client_ip`` from the socket's peer address.

    ``X-Forwarded-For`` is ignored: anyone can send it, so believing it would let an attacker
    choose the address the throttle and the policy see. (Trusted proxies come with policy.)
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.client_ip = request.META.get("REMOTE_ADDR") or None  # type: ignore[attr-defined]
        return self.get_response(request)
