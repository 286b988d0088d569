"""Remembered browsers: "Don't ask again on this device for N days" after a multi-factor
sign-in (VAHVA["REMEMBER_DEVICE_DAYS"]; 0 = not offered).

The browser keeps random tokens in one HttpOnly cookie (one per person who signed in on it, a
few at most); the database keeps their SHA-256 only, bound to the person, listed on Security
info and revocable there, by the helpdesk ("sign out everywhere"), by a new password and by a
fraud report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import TYPE_CHECKING, Any

from django.conf import settings as django_settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from vahva.audit.log import record
from vahva.conf import settings

from .models import RememberedDevice

if TYPE_CHECKING:
    from vahva.accounts.models import User

# "__Host-vahva_remember" under https (settings: host-only, Secure, Path=/).
COOKIE: str = getattr(django_settings, "REMEMBER_COOKIE_NAME", "vahva_remember")
_MAX_TOKENS = 5
# What a token looks like (secrets.token_urlsafe(32)); anything else in the cookie is ignored.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


def offered() -> bool:
    return int(settings.REMEMBER_DEVICE_DAYS) > 0


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _tokens(request: HttpRequest) -> list[str]:
    raw = request.COOKIES.get(COOKIE, "")
    # A forged, oversized cookie costs one bounded look-up, never a scan.
    return [t for t in raw.split(".")[:_MAX_TOKENS] if _TOKEN.match(t)]


def label_for(user_agent: str) -> str:
    """ "Chromium/Linux": the browser's and the system's names, enough for a person to tell
    their browsers apart. Stored language-neutral (names only): :func:`shown_label` makes the
    sentence in the language of the page that shows it."""
    browsers = (
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    )
    systems = (
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    )
    browser = next((name for mark, name in browsers if mark in user_agent), "")
    system = next((name for mark, name in systems if mark in user_agent), "")
    return f"{browser}/{system}" if browser or system else ""


# Rows saved before the labels were language-neutral: "Chrome on Linux", "A browser".
_OLD_SEPARATOR = " on "
_OLD_UNKNOWN = "A browser"


def shown_label(label: str) -> str:
    """A stored label as the page's language says it ("Chrome on Linux", "Chrome, Linux"...),
    or "A browser" when neither name was known."""
    if _OLD_SEPARATOR in label:
        browser, system = label.split(_OLD_SEPARATOR, 1)
    elif "/" in label:
        browser, system = label.split("/", 1)
    else:
        browser, system = ("", "") if label == _OLD_UNKNOWN else (label, "")
    if browser and system:
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    return browser or system or _("A browser")


def remembered_until(
    request: HttpRequest, user: User | AnonymousUser, *, now: dt.datetime
) -> dt.datetime | None:
    """Until when this browser is remembered for ``user`` (None: it is not)."""
    tokens = _tokens(request)
    if not tokens or not offered() or user.pk is None:
        return None
    # Bound to the person: another person's token in this browser does not count for them.
    found = (
        RememberedDevice.objects.filter(
            user_id=user.pk, digest__in=[_digest(t) for t in tokens], expires_at__gt=now
        )
        .order_by("-expires_at")
        .first()
    )
    if found is None:
        return None
    RememberedDevice.objects.filter(pk=found.pk).update(last_used_at=now)
    return found.expires_at


def remember(request: HttpRequest, response: HttpResponse, user: User, *, now: dt.datetime) -> None:
    """Remember this browser for ``user`` for REMEMBER_DEVICE_DAYS days (after MFA only)."""
    days = settings.REMEMBER_DEVICE_DAYS
    token = secrets.token_urlsafe(32)
    device = RememberedDevice.objects.create(
        user=user,
        digest=_digest(token),
        created_at=now,
        expires_at=now + dt.timedelta(days=days),
        label=label_for(str(request.META.get("HTTP_USER_AGENT", "")))[:100],
        ip=getattr(request, "client_ip", None) or request.META.get("REMOTE_ADDR"),
    )
    # Earlier tokens of other people on this browser stay; the oldest fall off.
    tokens = [*_tokens(request), token][-_MAX_TOKENS:]
    response.set_cookie(
        COOKIE,
        ".".join(tokens),
        max_age=days * 86400,
        secure=django_settings.SESSION_COOKIE_SECURE,
        # Token theft by script (XSS): the page's JavaScript never sees it.
        httponly=True,
        samesite="Lax",
    )
    record(
        "remembered.added",
        subject=user,
        actor=user,
        request=request,
        device=device.pk,
        expires_at=device.expires_at.isoformat(),
    )


def devices_of(user: User | AnonymousUser, *, now: dt.datetime) -> list[RememberedDevice]:
    if user.pk is None:
        return []  # signed out: nobody's browsers
    return list(RememberedDevice.objects.filter(user_id=user.pk, expires_at__gt=now))


def is_this_browser(request: HttpRequest, device: RememberedDevice) -> bool:
    return device.digest in {_digest(t) for t in _tokens(request)}


def forget(user: User | AnonymousUser, device_id: object) -> bool:
    """Forget one of the person's remembered browsers (another person's id: nothing)."""
    try:
        pk = int(str(device_id))
    except ValueError:
        return False
    if user.pk is None:
        return False
    deleted, _ = RememberedDevice.objects.filter(user_id=user.pk, pk=pk).delete()
    return bool(deleted)


def forget_all(user: User | AnonymousUser) -> int:
    if user.pk is None:
        return 0
    deleted, _ = RememberedDevice.objects.filter(user_id=user.pk).delete()
    return deleted


def _forget_on(reason: str) -> Any:
    def receiver(sender: Any, user: User, **kwargs: Any) -> None:
        # A thief who set up "don't ask again" keeps no shortcut past the second factor once
        # the password is changed, a push is reported, or the helpdesk signs the person out.
        count = forget_all(user)
        if count:
            record("remembered.forgotten", subject=user, reason=reason, count=count)

    return receiver


on_password_changed = _forget_on("password changed")
on_signed_out_everywhere = _forget_on("signed out everywhere")
on_fraud_reported = _forget_on("sign-in request reported")


def connect() -> None:
    from vahva.accounts.signals import password_changed, signed_out_everywhere

    password_changed.connect(on_password_changed, dispatch_uid="vahva.remembered.password")
    signed_out_everywhere.connect(on_signed_out_everywhere, dispatch_uid="vahva.remembered.out")
    from vahva.authenticator.signals import fraud_reported

    fraud_reported.connect(on_fraud_reported, dispatch_uid="vahva.remembered.fraud")
