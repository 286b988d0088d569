"""Passwords people manage themselves: *Change password* and *Forgot your password?*.

Change: signed in, confirmed with a second factor within REAUTH_TTL, the current password
(throttled like a sign-in), then the new one. Reset: a link by e-mail (a secret of 256 bits,
stored hashed, single use, PASSWORD_RESET_TTL seconds), then a second factor the person has
registered, then the new password; every session ends. Both check Django's validators (the
common-password list included) and mail the person. A directory person's password is
written to the directory (``[vahva.directory] password_change``), never kept here.

No account enumeration: "Forgot your password?" answers the same page, in the same time,
whether the address has an account or not (the mail leaves from a background thread).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import threading
from typing import Any

from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.password_validation import validate_password
from django.core import mail
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from vahva.accounts.models import User, normalise_email
from vahva.audit.log import record
from vahva.conf import settings
from vahva.directory.models import DirectoryLink
from vahva.directory.service import current_config
from vahva.errors import RateLimited, VahvaError
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.base import Answer, Role
from vahva.methods.models import RegisteredMethod
from vahva.signin import engine
from vahva.signin.reauth import recently_authenticated
from vahva.signin.requirements import SESSION_AUTH, client_ip

from .models import PasswordReset

log = logging.getLogger(__name__)
HOUR = dt.timedelta(hours=1)
SESSION_RESET = "vahva_password_reset"
SESSION_RESET_CONFIRMED = "vahva_password_reset_confirmed"


class ResetLinkInvalid(VahvaError):
    status = 410
    default_message = _("This link has expired or has already been used. Ask for a new one below.")


class ManagedElsewhere(VahvaError):
    status = 409
    default_message = _("Your password is managed by your organisation's directory.")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _key(purpose: str, value: str) -> str:
    return salted_hmac(f"vahva.password_reset.{purpose}", value, algorithm="sha256").hexdigest()


# --- who may change what -------------------------------------------------------------------


def directory_link(user: User | AnonymousUser | None) -> DirectoryLink | None:
    if user is None or user.pk is None:
        return None
    return DirectoryLink.objects.filter(user_id=user.pk).first()


def change_url_elsewhere(user: User | AnonymousUser | None) -> str | None:
    """Where a directory person changes the password when vahva may not (None: here)."""
    config = current_config()
    if config.enabled and not config.password_change and directory_link(user) is not None:
        return config.password_change_url or ""
    return None


def second_factor(user: User | None) -> RegisteredMethod | None:
    """A registered method that answers with a typed code (an app's code, a hardware token),
    else a recovery code; None when the person has neither."""
    if user is None:
        return None
    usable = [
        m
        for m in methods.registered_for(user)
        if registry.get(m.kind).answer in (Answer.HELD_CODE, Answer.LETTERS)
    ]
    usable.sort(key=lambda m: registry.get(m.kind).role is Role.FALLBACK)
    return usable[0] if usable else None


def confirmed_with_second_factor(request: HttpRequest) -> bool:
    """Confirmed within REAUTH_TTL, and not with the password alone."""
    auth = request.session.get(SESSION_AUTH) or {}
    # "" is a sign-in without a second factor (a trusted network), "pwd" a password confirm.
    method = str(auth.get("method") or "")
    return recently_authenticated(request) and method not in ("", "pwd")


# --- writing the password ------------------------------------------------------------------


def _write(user: User, new: str, *, old: str | None) -> None:
    link = directory_link(user)
    config = current_config()
    if link is None or not config.enabled:
        # A local account (or the directory was turned off: its people are local again).
        user.set_password(new)
        user.save()
        return
    if not config.password_change:
        raise ManagedElsewhere()
    # Lazily: python-ldap is loaded only where a directory is configured.
    from vahva.directory import passwords as directory_passwords

    directory_passwords.set_password(config, dn=link.dn, new=new, old=old)


def change(request: HttpRequest, *, current: str, new: str) -> None:
    """Change the signed-in person's password; raise InvalidCredentials, ValidationError,
    ManagedElsewhere, DirectoryRefused or DirectoryUnavailable."""
    user = request.user
    assert isinstance(user, User)
    if change_url_elsewhere(user) is not None:
        raise ManagedElsewhere()
    # Throttled and audited as a sign-in: a stolen session cannot guess the password freely.
    engine.check_password(request, user.email, current)
    validate_password(new, user)
    _write(user, new, old=current)
    # This browser stays signed in; the others are offered "sign out everywhere else".
    update_session_auth_hash(request, user)
    record("password.changed", subject=user, actor=user, request=request)
    _notify(user, _("Your password was changed"), request)


def sign_out_others(request: HttpRequest) -> None:
    user = request.user
    assert isinstance(user, User)
    user.sign_out_everywhere()
    update_session_auth_hash(request, user)
    record("account.signed_out_everywhere", subject=user, actor=user, request=request)


# --- "Forgot your password?" ---------------------------------------------------------------


def request_reset(request: HttpRequest, *, email: str, now: dt.datetime) -> None:
    """Count the request, then (within the limits, for an active account) mail a link."""
    address = normalise_email(email)
    ip = client_ip(request) or "unknown"
    # Reserve first: the row is committed before anything is counted or sent, so a burst in
    # parallel gets no more links than the limit (the n-th to count sees at least n rows).
    row = PasswordReset.objects.create(
        address_key=_key("address", address), client_key=_key("client", ip), created_at=now
    )
    since = now - HOUR
    per_address = PasswordReset.objects.filter(
        address_key=row.address_key, created_at__gt=since
    ).count()
    per_client = PasswordReset.objects.filter(
        client_key=row.client_key, created_at__gt=since
    ).count()
    if (
        per_address > settings.PASSWORD_RESET_PER_ADDRESS
        or per_client > settings.PASSWORD_RESET_PER_CLIENT
    ):
        # Mail bombing someone's inbox, or trying many addresses from one client.
        record("password.reset_limited", request=request, outcome="failure")
        raise RateLimited(
            HOUR.total_seconds(),
            _("Too many requests for a new password. Try again in an hour."),
        )
    user = User.objects.filter(email=address, is_active=True).first()
    if user is None:
        record("password.reset_requested", request=request, outcome="failure", reason="unknown")
        return
    token = secrets.token_urlsafe(32)
    PasswordReset.objects.filter(pk=row.pk).update(
        user=user,
        token_hash=_hash(token),
        expires_at=now + dt.timedelta(seconds=settings.PASSWORD_RESET_TTL),
    )
    record("password.reset_requested", subject=user, request=request)
    link = settings.PUBLIC_URL.rstrip("/") + reverse(
        "registration:password_reset_link", args=[token]
    )
    minutes = settings.PASSWORD_RESET_TTL // 60
    body = "\n".join(
        [
            str(_("Someone asked for a new password for your account at %(org)s.") % _org()),
            str(_("To choose a new one, open this link within %(minutes)d minutes:"))
            % {"minutes": minutes},
            "",
            link,
            "",
            str(_("You will also need one of your sign-in methods.")),
            str(_("If it was not you, you can ignore this message: your password stays.")),
        ]
    )
    send_in_background(user.email, str(_("A new password for %(org)s") % _org()), body)


def open_link(request: HttpRequest, token: str, *, now: dt.datetime) -> PasswordReset:
    """The request a link is for; kept in this browser's session (the URL with the secret
    is left at once: it would leak through the Referer and the history)."""
    row = (
        PasswordReset.objects.filter(token_hash=_hash(token), used_at=None, expires_at__gt=now)
        .exclude(token_hash="")
        .select_related("user")
        .first()
    )
    if row is None or row.user is None or not row.user.is_active:
        raise ResetLinkInvalid()
    request.session[SESSION_RESET] = row.pk
    request.session.pop(SESSION_RESET_CONFIRMED, None)
    return row


def pending(request: HttpRequest, *, now: dt.datetime) -> PasswordReset:
    pk = request.session.get(SESSION_RESET)
    row = (
        PasswordReset.objects.filter(pk=pk, used_at=None, expires_at__gt=now)
        .select_related("user")
        .first()
        if pk
        else None
    )
    if row is None or row.user is None or not row.user.is_active:
        raise ResetLinkInvalid()
    return row


def confirm_second_factor(
    request: HttpRequest, row: PasswordReset, registered: RegisteredMethod, code: str
) -> None:
    """The engine checks the code (throttled, single use, audited)."""
    if row.user is None:
        # A link made for an address nobody has: there is no second factor to check.
        raise ResetLinkInvalid()
    engine.check_second_factor(request, row.user, registered, code, action="password.reset_code")
    request.session[SESSION_RESET_CONFIRMED] = row.pk


def finish(request: HttpRequest, row: PasswordReset, *, new: str, now: dt.datetime) -> None:
    user = row.user
    assert user is not None
    if request.session.get(SESSION_RESET_CONFIRMED) != row.pk:
        # A link from a stolen mailbox alone is not enough: the second factor comes first.
        raise ResetLinkInvalid()
    validate_password(new, user)
    with transaction.atomic():
        # Single use: of two parallel submissions only the first UPDATE matches.
        if not PasswordReset.objects.filter(pk=row.pk, used_at=None, expires_at__gt=now).update(
            used_at=now
        ):
            raise ResetLinkInvalid()
        _write(user, new, old=None)
        # Whoever knew the old password is signed out everywhere, now.
        user.sign_out_everywhere()
        record("password.reset", subject=user, actor=user, request=request)
    request.session.pop(SESSION_RESET, None)
    request.session.pop(SESSION_RESET_CONFIRMED, None)
    _notify(user, _("Your password was reset"), request)


# --- mail ----------------------------------------------------------------------------------


def _org() -> dict[str, str]:
    return {"org": str(settings.ORGANISATION_NAME)}


def _notify(user: User, subject: Any, request: HttpRequest) -> None:
    body = "\n".join(
        [
            str(subject) + ".",
            str(_("From the address %(ip)s.") % {"ip": client_ip(request) or "?"}),
            "",
            str(_("If it was not you, contact the helpdesk now: %(contact)s"))
            % {"contact": settings.HELPDESK_EMAIL or settings.HELPDESK_PHONE or "-"},
        ]
    )
    transaction.on_commit(
        lambda: send_in_background(user.email, f"{subject} ({settings.ORGANISATION_NAME})", body)
    )


_sending: list[threading.Thread] = []


def _send(to: str, subject: str, body: str) -> None:
    try:
        mail.send_mail(subject, body, None, [to])
    except Exception:
        # The change is made and audited; a mail server being down must not undo it.
        log.exception("could not send the password mail")


def send_in_background(to: str, subject: str, body: str) -> None:
    """Send without making the request wait (the same timing with or without an account)."""
    thread = threading.Thread(target=_send, args=(to, subject, body), daemon=True)
    _sending.append(thread)
    thread.start()


def wait_for_mail(timeout: float = 10) -> None:
    """Tests: wait until the mails handed over so far have left."""
    while _sending:
        _sending.pop().join(timeout)
