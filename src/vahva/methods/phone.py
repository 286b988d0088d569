"""What the two phone methods (a texted code, a call to press #) share.

- numbers: parsed with ``phonenumbers``, stored in E.164, refused outside the allowed
  countries or when they cost the caller money (premium rate, shared cost);
- display: the full number while setting it up, masked (``+358 44 *** **21``) afterwards;
- SMS pumping defence: texts and calls are counted per number, person, client address and
  country per hour and for the whole deployment per day; hitting a limit refuses, is audited
  and alerts the administrators, never silently;
- the enrolment page's steps, the same for both: "Text me a code" / "Call me".
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import phonenumbers
from babel import Locale, UnknownLocaleError
from django.conf import settings as django_settings
from django.core import mail
from django.db import transaction
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from vahva.audit.log import record
from vahva.audit.models import AuditEvent
from vahva.conf import settings
from vahva.errors import AlreadyCompleted, ExpiredChallenge, MalformedInput, RateLimited

from . import registry, service
from .models import PendingEnrolment, PhoneSend, RegisteredMethod

log = logging.getLogger(__name__)

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
#: What a typed number may contain besides digits: spaces and the usual punctuation.
_NUMBER_CHARS = re.compile(r"[0-9 +().\-/]*")
#: Number types that reach a person's phone; premium rate, shared cost, toll-free, pagers...
#: are refused (toll fraud: someone else's premium number would earn from our texts).
_ALLOWED_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
}
DELIVERIES = ("sms", "voice")


class NumberRefused(MalformedInput):
    """A number that is well formed but may not be used here."""


# --- numbers -------------------------------------------------------------------------------


def country_choices() -> list[tuple[str, str]]:
    """The allowed countries for the dropdown: ("FI", "Finland (+358)"), default first."""
    default = str(settings.PHONE_DEFAULT_COUNTRY)
    regions = [default] + [r for r in settings.PHONE_COUNTRIES if r != default]
    language = translation.get_language() or "en"
    return [(r, f"{_country_name(r, language)} (+{country_code(r)})") for r in regions]


def country_code(region: str) -> int:
    return int(phonenumbers.country_code_for_region(region))


def _country_name(region: str, language: str) -> str:
    """The country's name in ``language`` (CLDR, through Babel), or its code."""
    try:
        names = Locale.parse(language.replace("-", "_")).territories
    except (ValueError, UnknownLocaleError):
        names = Locale("en").territories
    return str(names.get(region) or region)


def parse(raw: str, country: str | None = None) -> str:
    """The E.164 form of a typed number (``044 1234567``, ``+358 44 1234567``, ``00358…``).

    Raises MalformedInput with a message a person understands.
    """
    text = (raw or "").strip()
    if not text:
        raise MalformedInput(_("Enter your phone number."))
    if len(text) > 32 or not _NUMBER_CHARS.fullmatch(text) or not text.isascii():
        raise MalformedInput(
            _("A phone number has only digits (and spaces), for example 044 1234567.")
        )
    region = country or str(settings.PHONE_DEFAULT_COUNTRY)
    if region not in settings.PHONE_COUNTRIES:
        raise MalformedInput(_("Choose a country from the list."))
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise MalformedInput(
            _("That does not look like a phone number. Check it and try again.")
        ) from None
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason in (
        phonenumbers.ValidationResult.TOO_SHORT,
        phonenumbers.ValidationResult.INVALID_LENGTH,
    ):
        raise MalformedInput(_("That phone number is too short. Check it and try again."))
    if reason == phonenumbers.ValidationResult.TOO_LONG:
        raise MalformedInput(_("That phone number is too long. Check it and try again."))
    if reason == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
        raise MalformedInput(_("That country code is not known. Check the number."))
    if not phonenumbers.is_valid_number(number):
        raise MalformedInput(_("That is not a valid phone number. Check it and try again."))
    if phonenumbers.region_code_for_number(number) not in settings.PHONE_COUNTRIES:
        raise NumberRefused(
            _(
                "Phone numbers in that country cannot be used here. Use a number in one of "
                "the countries in the list."
            )
        )
    if phonenumbers.number_type(number) not in _ALLOWED_TYPES:
        raise NumberRefused(
            _(
                "That number cannot receive our texts or calls (it is a premium-rate or "
                "service number). Use your own mobile or landline number."
            )
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def region_of(e164: str) -> str:
    return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or "ZZ"


def display(e164: str) -> str:
    """The whole number, readable: ``+358 44 1234567``."""
    return phonenumbers.format_number(
        phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def mask(e164: str) -> str:
    """The number with all but the country code, the first group and the last two digits
    hidden: ``+358 44 *** **21`` (enough to recognise one's own phone, little to a stranger)."""
    formatted = display(e164)
    parts = formatted.split(" ")
    code, first = parts[0], parts[1] if len(parts) > 1 else ""
    national = str(phonenumbers.parse(e164, None).national_number)
    rest = national[len(first) :] if national.startswith(first) else national
    hidden = "*" * max(0, len(rest) - 2) + rest[-2:]
    return " ".join(p for p in (code, first, hidden[:3], hidden[3:]) if p)


# --- limits (SMS pumping) ------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """One text or call about to go out, as the limits see it."""

    number: str
    user: Any
    ip: str | None
    channel: str

    @property
    def country(self) -> str:
        return region_of(self.number)


def _limited_message(seconds: int) -> str | Promise:
    minutes = max(1, (seconds + 59) // 60)
    return ngettext_lazy(
        "Too many texts or calls were asked for. Try again in %(minutes)d minute, or use "
        "another way to sign in.",
        "Too many texts or calls were asked for. Try again in %(minutes)d minutes, or use "
        "another way to sign in.",
        "minutes",
    ) % {"minutes": minutes}


def check_limits(send: Send, *, now: dt.datetime, request: Any = None) -> None:
    """Refuse (RateLimited) when this send would pass a limit: audited, admins alerted.

    Call it outside a transaction that may roll back: the audit row must stay.
    """
    limits = settings.PHONE_LIMITS
    since = now - HOUR
    recent = PhoneSend.objects.filter(at__gt=since)
    scopes: list[tuple[str, str, Any, int, dt.timedelta]] = [
        ("number", send.number, recent.filter(number=send.number), limits["number"], HOUR),
        (
            "person",
            str(getattr(send.user, "pk", "")),
            recent.filter(user=send.user),
            limits["person"],
            HOUR,
        ),
        ("country", send.country, recent.filter(country=send.country), limits["country"], HOUR),
        ("daily", "all", PhoneSend.objects.filter(at__gt=now - DAY), settings.PHONE_DAILY_CAP, DAY),
    ]
    if send.ip:
        scopes.insert(2, ("ip", send.ip, recent.filter(ip=send.ip), limits["ip"], HOUR))
    for scope, key, sends, limit, window in scopes:
        count = sends.count()
        if count < limit:
            continue
        oldest = sends.order_by("at").values_list("at", flat=True).first() or now
        retry = max(1, int((oldest + window - now).total_seconds()))
        _refused(send, scope=scope, key=key, limit=limit, now=now, request=request)
        raise RateLimited(retry, _limited_message(retry))


def _refused(
    send: Send, *, scope: str, key: str, limit: int, now: dt.datetime, request: Any
) -> None:
    alerted = AuditEvent.objects.filter(
        action="phone.limited", at__gt=now - HOUR, data__scope=scope, data__key=key
    ).exists()
    record(
        "phone.limited",
        subject=send.user,
        request=request,
        outcome="failure",
        reason=f"{scope} limit of {limit} reached",
        scope=scope,
        key=key,
        number=mask(send.number),
        channel=send.channel,
    )
    if not alerted:
        # Once per scope and hour: a pumping attack must not turn into a mail flood as well.
        alert(
            f"Phone limit reached: {scope}",
            f"The {scope} limit ({limit}) for texts and calls was reached ({key}); a "
            f"{send.channel} to {mask(send.number)} was refused.\n"
            "If this was not expected, someone may be pumping texts or calls through the "
            "sign-in service. The audit log has the details (action phone.limited).",
        )


def record_send(send: Send, *, now: dt.datetime) -> None:
    PhoneSend.objects.create(
        at=now,
        user=send.user,
        number=send.number,
        country=send.country,
        ip=send.ip,
        channel=send.channel,
    )


def alert(subject: str, body: str) -> None:
    """Tell the administrators and the helpdesk (the audit log has it as well)."""
    prefix = f"[{settings.ORGANISATION_NAME}] "
    try:
        mail.mail_admins(subject, body, fail_silently=True)
        if settings.HELPDESK_EMAIL:
            mail.send_mail(prefix + subject, body, None, [str(settings.HELPDESK_EMAIL)])
    except Exception:
        # A mail server being down must not hide the refusal (it is audited) or break it.
        log.exception("could not send the alert %r", subject)


def resend_wait(last: dt.datetime | None, *, now: dt.datetime) -> int:
    """Seconds until another text or call may be asked for (0: now)."""
    if last is None:
        return 0
    return max(
        0,
        int(
            (last + dt.timedelta(seconds=settings.PHONE_RESEND_AFTER) - now).total_seconds() + 0.999
        ),
    )


def too_soon(seconds: int) -> RateLimited:
    return RateLimited(
        seconds,
        ngettext_lazy(
            "You can ask for a new code or call in %(seconds)d second.",
            "You can ask for a new code or call in %(seconds)d seconds.",
            "seconds",
        )
        % {"seconds": seconds},
    )


def language_of(user: Any) -> str:
    """The language texts and calls speak to this person in."""
    return (
        str(getattr(user, "language", "") or "")
        or translation.get_language()
        or str(django_settings.LANGUAGE_CODE)
    )[:2]


# --- Security info: Text <-> Call, change of number -------------------------------------------

#: The key in a pending enrolment's data naming the phone it replaces (a changed number).
REPLACES = "replaces"


def phone_of(user: Any, method_id: object) -> RegisteredMethod:
    """The person's own phone with this id; MalformedInput for anything else (looked up by
    (user, id): an id from the browser never reaches another person's method)."""
    registered = service.get_for(user, method_id)
    if registered.kind not in DELIVERIES:
        raise MalformedInput(_("That sign-in method is not a phone."))
    return registered


def set_delivery(user: Any, method_id: object, delivery: str) -> tuple[RegisteredMethod, str]:
    """Text ↔ call for the same number: (the phone, its kind before).

    The number was proved to be the person's when it was added; how it is reached needs no
    new proof. Name, default flag and dates stay. Asking for the kind it already has is a
    no-op (a double-submitted form)."""
    registered = phone_of(user, method_id)
    if delivery not in DELIVERIES or delivery not in {m.kind for m in registry.all_methods()}:
        raise MalformedInput(_("Choose “Text me a code” or “Call me”."))
    before = registered.kind
    # Conditional UPDATE: of two racing switches one moves it, the other changes nothing.
    RegisteredMethod.objects.filter(user=user, pk=registered.pk, kind=before).update(kind=delivery)
    registered.refresh_from_db(fields=["kind"])
    return registered, before


def mark_replacing(pending: PendingEnrolment, registered: RegisteredMethod) -> PendingEnrolment:
    """Make ``pending`` a change of number: when it is proved, it replaces ``registered``."""
    old = phone_of(pending.user, registered.pk)
    pending.data = {**pending.data, REPLACES: old.pk}
    pending.save(update_fields=["data"])
    return pending


def replaced_by(pending: PendingEnrolment) -> RegisteredMethod | None:
    """The person's phone this enrolment replaces, if it is a change of number (and the
    phone is still there)."""
    old_id = pending.data.get(REPLACES)
    if old_id is None:
        return None
    try:
        return phone_of(pending.user, old_id)
    except MalformedInput:
        return None


# --- the enrolment page ----------------------------------------------------------------------


class PhoneMethod:
    """The shared part of the SMS and voice methods: the enrolment page's steps.

    ``send``: a number, a country and "Text me a code" / "Call me"; the pending enrolment
    takes the chosen kind (so the page becomes that method's) and the text or call goes out.
    ``resend``: again, once PHONE_RESEND_AFTER has passed. ``change``: another number.
    """

    kind: ClassVar[str]

    def describe(self, registered: RegisteredMethod) -> str:
        number = mask(str(registered.data.get("number", "")))
        label = self.phone_label(number)
        return f"{label} ({registered.name})" if registered.name else label

    def phone_label(self, masked: str) -> str:
        raise NotImplementedError

    def deliver_enrolment(
        self, pending: PendingEnrolment, *, now: dt.datetime, ip: str | None
    ) -> None:
        """Text the code / make the call for ``pending`` (its number is set)."""
        raise NotImplementedError

    def last_delivery(self, pending: PendingEnrolment) -> dt.datetime | None:
        raise NotImplementedError

    def enrolment_action(
        self,
        pending: PendingEnrolment,
        action: str,
        data: Mapping[str, str],
        *,
        now: dt.datetime,
        ip: str | None,
    ) -> PendingEnrolment:
        if pending.consumed:
            raise AlreadyCompleted()
        if pending.expires_at <= now:
            raise ExpiredChallenge()
        if action == "change":
            # Another number, same purpose: a change of number still replaces the old phone.
            pending.data = {k: v for k, v in pending.data.items() if k == REPLACES}
            pending.save(update_fields=["data"])
            return pending
        if action == "send":
            delivery = str(data.get("delivery", ""))
            if delivery not in DELIVERIES:
                raise MalformedInput(_("Choose “Text me a code” or “Call me”."))
            try:
                target = registry.get(delivery)
            except KeyError:
                raise MalformedInput(_("Choose “Text me a code” or “Call me”.")) from None
            number = parse(str(data.get("number", "")), str(data.get("country", "")) or None)
        elif action == "resend":
            number = str(pending.data.get("number", ""))
            if not number:
                raise MalformedInput(_("Enter your phone number."))
            target = registry.get(pending.kind)
        else:
            raise MalformedInput()
        assert isinstance(target, PhoneMethod)
        same = number == pending.data.get("number") and target.kind == pending.kind
        wait = resend_wait(target.last_delivery(pending), now=now) if same else 0
        if wait and action == "send":
            # A double click on "Text me a code": the first one sent it; nothing goes twice.
            return pending
        if wait:
            raise too_soon(wait)
        check_limits(Send(number, pending.user, ip, target.kind), now=now)
        with transaction.atomic():
            # Two clicks racing: the row lock (BEGIN IMMEDIATE on SQLite) lets one through;
            # the second sees the first's delivery and sends nothing.
            locked = PendingEnrolment.objects.select_for_update().get(pk=pending.pk)
            if locked.consumed:
                raise AlreadyCompleted()
            if same and resend_wait(target.last_delivery(locked), now=now):
                return locked
            locked.kind = target.kind
            locked.data = {**locked.data, "number": number}
            locked.save(update_fields=["kind", "data"])
            target.deliver_enrolment(locked, now=now, ip=ip)
            record_send(Send(number, locked.user, ip, target.kind), now=now)
        return locked

    def save_verified(
        self, pending: PendingEnrolment, number: str, *, now: dt.datetime, name: str = ""
    ) -> RegisteredMethod:
        """Save the phone just proved, in the caller's transaction (with the consumed
        enrolment); a changed number replaces the old phone there too, nothing half-done."""
        old = replaced_by(pending)
        saved = service.save_new(
            pending.user,
            self.kind,
            now=now,
            name=name or (old.name if old else ""),
            data={"number": number, "language": language_of(pending.user)},
        )
        if old is not None:
            service.hand_over(old, saved, now=now)
        return saved

    def enrolment_context(self, pending: PendingEnrolment) -> dict[str, Any]:
        from vahva import clock

        number = str(pending.data.get("number", ""))
        old = replaced_by(pending)
        return {
            "replacing": registry.get(old.kind).describe(old) if old else "",
            "number": display(number) if number else "",
            "countries": country_choices(),
            "default_country": settings.PHONE_DEFAULT_COUNTRY,
            "resend_wait": resend_wait(self.last_delivery(pending), now=clock.now())
            if number
            else 0,
        }
