"""Text me a code: a 6-digit code by SMS, for one enrolment or one sign-in attempt.

Codes come from :mod:`secrets`, are kept only as a salted HMAC (keyed with the deployment's
secret key: the database alone does not give them away, and 10^6 guesses offline need the
key), expire after PHONE_CODE_TTL seconds, take PHONE_CODE_TRIES wrong tries and are used once
(conditional UPDATE). A new code for the same purpose retires the older ones. The text names
the organisation, says the code is for signing in, and has no links.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from vahva.conf import settings
from vahva.errors import (
    AlreadyCompleted,
    ExpiredChallenge,
    InvalidCode,
    MalformedInput,
    ReplayedCode,
    VahvaError,
)
from vahva.gateways import outbox
from vahva.gateways.models import OutboxMessage
from vahva.methods import service, totp
from vahva.methods.base import Answer, AttemptRef, Method, WizardStep
from vahva.methods.challenges import Challenge, TypeCode
from vahva.methods.models import PendingEnrolment, RegisteredMethod

from . import common as phone
from .models import PhoneCode

if TYPE_CHECKING:
    from vahva.accounts.models import User

DIGITS = 6


class CodeExpired(VahvaError):
    status = 410
    default_message = _("That code has expired. Ask for a new code.")


def new_code() -> str:
    return f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"


def digest(code: str, salt: str) -> str:
    return salted_hmac(f"vahva.methods.sms.{salt}", code, algorithm="sha256").hexdigest()


def message(code: str, *, language: str) -> str:
    """The text: who sends it, what it is for, how long it lasts; no links."""
    minutes = max(1, settings.PHONE_CODE_TTL // 60)
    with translation.override(language):
        return ngettext(
            "%(code)s is your %(org)s sign-in code. It is valid for %(minutes)d minute. "
            "Never give it to anyone: %(org)s never asks for it.",
            "%(code)s is your %(org)s sign-in code. It is valid for %(minutes)d minutes. "
            "Never give it to anyone: %(org)s never asks for it.",
            minutes,
        ) % {"code": code, "org": settings.ORGANISATION_NAME, "minutes": minutes}


def send_code(
    user: User,
    number: str,
    *,
    now: dt.datetime,
    pending: PendingEnrolment | None = None,
    registered: RegisteredMethod | None = None,
    attempt: str = "",
) -> PhoneCode:
    """Create a code for this purpose, retire the older ones, and put its text in the outbox,
    in the caller's transaction: it is texted after the commit, and a rollback sends nothing.
    If the text cannot be sent, the code is deleted (:func:`_undelivered`)."""
    code = new_code()
    salt = secrets.token_hex(16)
    expires_at = now + dt.timedelta(seconds=settings.PHONE_CODE_TTL)
    with transaction.atomic():
        _codes_for(pending=pending, registered=registered, attempt=attempt).filter(
            used=False
        ).update(used=True)
        text = message(code, language=phone.language_of(user))
        return PhoneCode.objects.create(
            user=user,
            pending=pending,
            registered=registered,
            attempt=attempt,
            number=number,
            salt=salt,
            digest=digest(code, salt),
            created_at=now,
            expires_at=expires_at,
            # A text that arrives after its code expired is no use: it expires with it.
            message=outbox.enqueue_sms(number, text, now=now, expires_at=expires_at),
        )


def _undelivered(sent: OutboxMessage) -> None:
    """The text never went: its code goes too (the person asks for another at once)."""
    PhoneCode.objects.filter(message_id=sent.pk).delete()


outbox.on_undelivered(_undelivered)


def _wait_or_send(codes: QuerySet[PhoneCode], *, resend: bool, now: dt.datetime) -> int | None:
    """None: text a new code. Otherwise a live code was texted already: the seconds until
    another may be asked for (raises too_soon when a resend comes before that)."""
    latest = codes.order_by("-created_at", "-pk").first()
    live = latest is not None and not latest.used and latest.expires_at > now
    wait = phone.resend_wait(latest.created_at if latest else None, now=now)
    if live and not resend:
        return wait  # a reload shows the page again; it does not text again
    if wait:
        raise phone.too_soon(wait)
    return None


def _codes_for(
    *,
    pending: PendingEnrolment | None = None,
    registered: RegisteredMethod | None = None,
    attempt: str = "",
) -> QuerySet[PhoneCode]:
    if pending is not None:
        return PhoneCode.objects.filter(pending=pending)
    return PhoneCode.objects.filter(registered=registered, attempt=attempt)


def use_code(codes: QuerySet[PhoneCode], typed: str, *, now: dt.datetime) -> PhoneCode:
    """Accept ``typed`` for the newest of ``codes``, once; count a wrong try.

    Raises InvalidCode (wrong), ReplayedCode (already used), CodeExpired (none, too old, or
    too many wrong tries).
    """
    code = totp.normalise_code(typed, digits=DIGITS)
    latest = codes.order_by("-created_at", "-pk").first()
    if latest is None:
        raise CodeExpired(_("No code was sent yet. Ask for a code first."))
    matches = hmac.compare_digest(latest.digest, digest(code, latest.salt))
    if latest.used:
        if matches:
            raise ReplayedCode(_("That code has already been used. Ask for a new code."))
        raise CodeExpired()
    if latest.expires_at <= now:
        raise CodeExpired()
    if latest.tries >= settings.PHONE_CODE_TRIES:
        raise CodeExpired(_("Too many wrong codes. Ask for a new code."))
    if not matches:
        PhoneCode.objects.filter(pk=latest.pk).update(tries=F("tries") + 1)
        if latest.tries + 1 >= settings.PHONE_CODE_TRIES:
            raise CodeExpired(_("Too many wrong codes. Ask for a new code."))
        raise InvalidCode()
    # Single use even when two requests race: only one UPDATE finds the row unused.
    taken = PhoneCode.objects.filter(
        pk=latest.pk, used=False, tries__lt=settings.PHONE_CODE_TRIES, expires_at__gt=now
    ).update(used=True)
    if not taken:
        raise ReplayedCode(_("That code has already been used. Ask for a new code."))
    return latest


class SmsMethod(phone.PhoneMethod, Method):
    kind = "sms"
    label = _("Phone: text me a code")
    description = _("We text a 6-digit code to your phone, and you type it in.")
    prompt = _("Enter the code we texted to your phone")
    amr = ("sms",)
    verified_message = _("SMS verified successfully")
    answer = Answer.SENT_CODE
    send_channel = "sms"
    # The Phone step: a number, then "Text me a code" (SMS) or "Call me" (press #); it opens
    # on the number page itself (its one sentence of introduction is there).
    wizard = WizardStep("phone", _("Phone"), lead=True)

    def phone_label(self, masked: str) -> str:
        return gettext("Text a code to %(number)s") % {"number": masked}

    # --- sign-in ---------------------------------------------------------------------------

    def begin(
        self, registered: RegisteredMethod, *, now: dt.datetime, attempt: AttemptRef | None = None
    ) -> Challenge:
        attempt_id = attempt.id if attempt else ""
        number = str(registered.data.get("number", ""))
        codes = _codes_for(registered=registered, attempt=attempt_id)
        resend = bool(attempt and attempt.resend)
        masked = phone.mask(number)
        wait = _wait_or_send(codes, resend=resend, now=now)
        if wait is not None:
            return TypeCode(sent_to=masked, resend_wait=wait)
        ip = attempt.ip if attempt else None
        send = phone.Send(number, registered.user, ip, self.kind)
        try:
            with phone.refusals_audited(now=now), transaction.atomic():
                # Under the send lock, read again: of parallel requests for this attempt
                # (reloads, resends) the first texts and the others show its code's page.
                phone.lock_sends()
                wait = _wait_or_send(codes, resend=resend, now=now)
                if wait is not None:
                    return TypeCode(sent_to=masked, resend_wait=wait)
                row = send_code(
                    registered.user, number, now=now, registered=registered, attempt=attempt_id
                )
                # Reserve first: counted in the transaction that writes the text.
                phone.reserve(send, now=now, message=row.message)
        except phone.LimitReached as full:
            # Nothing was texted (rolled back, audited): no field for a code that never came.
            return phone.limit_reached(full, now=now)
        outbox.raise_if_failed(row.message_id)
        return TypeCode(sent_to=masked, resend_wait=phone.resend_wait(now, now=now))

    def verify(self, registered: RegisteredMethod, response: str, *, now: dt.datetime) -> None:
        self._verify(registered, response, now=now, attempt="")

    def verify_for(
        self,
        registered: RegisteredMethod,
        response: str,
        *,
        now: dt.datetime,
        attempt: AttemptRef,
    ) -> None:
        # Only the code texted for this attempt: a code from another browser's sign-in fails.
        self._verify(registered, response, now=now, attempt=attempt.id)

    def _verify(
        self, registered: RegisteredMethod, response: str, *, now: dt.datetime, attempt: str
    ) -> None:
        use_code(_codes_for(registered=registered, attempt=attempt), response, now=now)
        service.touch(registered, now=now)

    # --- enrolment -------------------------------------------------------------------------

    def start_enrolment(self, user: User, *, now: dt.datetime) -> PendingEnrolment:
        return service.new_pending(user, self.kind, now=now, ttl=settings.ENROLMENT_TTL)

    def deliver_enrolment(
        self, pending: PendingEnrolment, *, now: dt.datetime, ip: str | None
    ) -> OutboxMessage:
        row = send_code(pending.user, str(pending.data["number"]), now=now, pending=pending)
        assert row.message is not None
        return row.message

    def last_delivery(self, pending: PendingEnrolment) -> dt.datetime | None:
        return (
            PhoneCode.objects.filter(pending=pending)
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )

    def finish_enrolment(
        self, pending: PendingEnrolment, response: str, *, now: dt.datetime, name: str = ""
    ) -> RegisteredMethod:
        # The number as the enrolment's steps stored it (not a copy read before them).
        pending.refresh_from_db(fields=["data", "kind"])
        number = str(pending.data.get("number", ""))
        if pending.expires_at <= now:
            raise ExpiredChallenge()
        if not number:
            raise MalformedInput(_("Enter your phone number first."))
        done = PendingEnrolment.objects.filter(pk=pending.pk, consumed=True)
        if done.exists():
            raise AlreadyCompleted()  # a double-submitted form: the first one saved it
        # Wrong tries are counted outside the transaction below, so a failure keeps them.
        try:
            use_code(PhoneCode.objects.filter(pending=pending), response, now=now)
        except ReplayedCode:
            if done.exists():
                raise AlreadyCompleted() from None
            raise
        with transaction.atomic():
            service.consume_pending(pending, now=now)
            return self.save_verified(pending, number, now=now, name=name)
