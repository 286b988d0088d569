"""The "known browser" cookie (OWASP device cookies) that exempts a browser the account has
signed in from before from the account-wide password throttle."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings as django_settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

from vahva.conf import settings

# "__Host-vahva_known" under https (settings: host-only, Secure, Path=/).
COOKIE: str = getattr(django_settings, "KNOWN_BROWSER_COOKIE_NAME", "vahva_known")
_SALT = "vahva.signin.known-browser"
_MAX_ACCOUNTS = 5


def _read(request: HttpRequest) -> dict[str, Any] | None:
    raw = request.COOKIES.get(COOKIE)
    if not raw:
        return None
    try:
        # Forged or stale cookie: the signature and age check turn it into "unknown browser".
        value = signing.loads(raw, salt=_SALT, max_age=settings.KNOWN_BROWSER_DAYS * 86400)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("n"), str):
        return None
    return value


def key_for(request: HttpRequest, user_pk: object) -> str | None:
    """A per-browser throttle key if this browser is known for ``user_pk``, else None."""
    value = _read(request)
    if value is None or str(user_pk) not in value.get("u", []):
        return None
    return f"pw:known:{user_pk}:{value['n']}"


def remember(request: HttpRequest, response: HttpResponse, user_pk: object) -> None:
    value = _read(request) or {"n": secrets.token_urlsafe(16), "u": []}
    accounts = [u for u in value.get("u", []) if u != str(user_pk)] + [str(user_pk)]
    value["u"] = accounts[-_MAX_ACCOUNTS:]
    response.set_cookie(
        COOKIE,
        signing.dumps(value, salt=_SALT),
        max_age=settings.KNOWN_BROWSER_DAYS * 86400,
        secure=django_settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
