"""What the two phone methods (a texted code, a call to press #) share.

- numbers (:mod:`.phone_numbers`): parsed with ``phonenumbers``, stored in E.164, refused
  outside the allowed countries or when they cost the caller money; shown whole while being
  set up, masked (``+358 44 *** **21``) afterwards;
- limits (:mod:`.phone_limits`), the SMS pumping defence: every text and call is reserved
  per number, person, client address and country per hour and for the whole deployment per
  day before it is sent; hitting a limit refuses, is audited and alerts the helpdesk;
- delivery: a text or call is written to the outbox in the transaction that creates its
  code or call and leaves after the commit (:mod:`vahva.gateways.outbox`);
- Security info's Text <-> Call and change of number, and the enrolment page's steps, the
  same for both: "Text me a code" / "Call me".

The names of both helper modules stay importable from here (``phone.parse``,
``phone.reserve``...).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings as django_settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from vahva.conf import settings
from vahva.errors import AlreadyCompleted, ExpiredChallenge, MalformedInput
from vahva.gateways import outbox
from vahva.gateways.base import GatewayError
from vahva.gateways.models import OutboxMessage
from vahva.methods import registry, service
from vahva.methods.base import CallerCheck, CallerProof, Include, NotOffered
from vahva.methods.models import PendingEnrolment, RegisteredMethod

from .limits import (
    DAY,
    HOUR,
    LimitReached,
    Send,
    alert,
    limit_reached,
    lock_sends,
    refund,
    refusals_audited,
    resend_wait,
    reserve,
    reserve_audited,
    too_soon,
)
from .numbers import (
    NumberRefused,
    country_choices,
    country_code,
    display,
    mask,
    parse,
    region_of,
)

if TYPE_CHECKING:
    from vahva.accounts.models import User

__all__ = [
    "DAY",
    "DELIVERIES",
    "HOUR",
    "LimitReached",
    "NumberRefused",
    "PhoneMethod",
    "Send",
    "alert",
    "country_choices",
    "country_code",
    "display",
    "language_of",
    "limit_reached",
    "lock_sends",
    "mask",
    "parse",
    "phone_of",
    "refund",
    "refusals_audited",
    "region_of",
    "resend_wait",
    "reserve",
    "reserve_audited",
    "set_delivery",
    "too_soon",
]

DELIVERIES = ("sms", "voice")


def language_of(user: User) -> str:
    """The language texts and calls speak to this person in."""
    return (
        str(getattr(user, "language", "") or "")
        or translation.get_language()
        or str(django_settings.LANGUAGE_CODE)
    )[:2]


# --- Security info: Text <-> Call, change of number -------------------------------------------


def known_number(user: User) -> str:
    """The organisation's mobile number for ``user`` in E.164, if it parses and the person
    has not registered it already; else ""."""
    raw = str(getattr(user, "mobile_in_system", "") or "")
    if not raw:
        return ""
    try:
        number = parse(raw)
    except MalformedInput:
        return ""
    mine = {str(m.data.get("number", "")) for m in service.registered_for(user)}
    return "" if number in mine else number


def phone_of(user: User, method_id: object) -> RegisteredMethod:
    """The person's own phone with this id; MalformedInput for anything else (looked up by
    (user, id): an id from the browser never reaches another person's method)."""
    registered = service.get_for(user, method_id)
    if registered.kind not in DELIVERIES:
        raise MalformedInput(_("That sign-in method is not a phone."))
    return registered


def set_delivery(user: User, method_id: object, delivery: str) -> tuple[RegisteredMethod, str]:
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


# --- the enrolment page ----------------------------------------------------------------------


def _sent_already(
    target: PhoneMethod, pending: PendingEnrolment, number: str, action: str, *, now: dt.datetime
) -> bool:
    """True when this text or call went out moments ago: a double click on "Text me a code"
    (the first one sent it; nothing goes twice). A resend that comes too early: too_soon."""
    same = number == pending.data.get("number") and target.kind == pending.kind
    wait = resend_wait(target.last_delivery(pending), now=now) if same else 0
    if wait and action == "send":
        return True
    if wait:
        raise too_soon(wait)
    return False


class PhoneMethod:
    """The shared part of the SMS and voice methods: the enrolment page's steps.

    ``send``: a number, a country and "Text me a code" / "Call me"; the pending enrolment
    takes the chosen kind (so the page becomes that method's) and the text or call goes out.
    ``resend``: again, once PHONE_RESEND_AFTER has passed. ``change``: another number.
    """

    kind: ClassVar[str]
    #: "Change number": a new phone enrolment replaces this one once proved.
    replaceable: ClassVar[bool] = True

    def security_row(self, registered: RegisteredMethod) -> Include | None:
        installed = {m.kind for m in registry.all_methods()}
        # Text <-> call, when this deployment offers the other one.
        switch_to = next((k for k in DELIVERIES if k != registered.kind and k in installed), None)
        return Include("methods/phone/_security_row.html", {"switch_to": switch_to})

    def change(
        self, registered: RegisteredMethod, action: str, data: Mapping[str, str]
    ) -> tuple[RegisteredMethod, str]:
        if action != "delivery":
            raise NotOffered()
        changed, _before = set_delivery(registered.user, registered.pk, data.get("delivery", ""))
        if changed.kind == "voice":
            done = gettext("From now on we call your phone: %(method)s.")
        else:
            done = gettext("From now on we text codes to your phone: %(method)s.")
        method = registry.get(changed.kind)
        return changed, done % {"method": method.describe(changed)}

    def answered_also_by(self, registered: RegisteredMethod) -> tuple[str, ...]:
        # One number, both ways: a text to a number registered for calls, and the other way.
        return tuple(kind for kind in DELIVERIES if kind != registered.kind)

    # --- the helpdesk verifies a caller (issue #19 item 9) ------------------------------------

    def caller_checks(self, user: User, *, now: dt.datetime) -> list[CallerCheck]:
        from . import caller

        return caller.checks(user, self.kind, call=self.kind == "voice")

    def send_caller_code(
        self, registered: RegisteredMethod, *, check: str, now: dt.datetime
    ) -> str:
        from . import caller

        return caller.send(registered, check=check, now=now, call=self.kind == "voice")

    def check_caller(
        self, registered: RegisteredMethod, code: str, *, check: str, now: dt.datetime
    ) -> CallerProof:
        from . import caller

        return caller.check(registered, code, check=check, now=now, call=self.kind == "voice")

    def describe(self, registered: RegisteredMethod) -> str:
        number = mask(str(registered.data.get("number", "")))
        label = self.phone_label(number)
        return f"{label} ({registered.name})" if registered.name else label

    def phone_label(self, masked: str) -> str:
        raise NotImplementedError

    def deliver_enrolment(
        self, pending: PendingEnrolment, *, now: dt.datetime, ip: str | None
    ) -> OutboxMessage:
        """Write the code's text / the call for ``pending`` (its number is set) to the
        outbox, in the caller's transaction."""
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
            pending.data = {k: v for k, v in pending.data.items() if k == service.REPLACES}
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
            if data.get("known") == "1":
                # "Is this your number?": the organisation's number for the person, which the
                # page showed masked; a text or call to it still proves it before it is saved.
                number = known_number(pending.user)
                if not number:
                    raise MalformedInput(_("Enter your phone number."))
            else:
                number = parse(str(data.get("number", "")), str(data.get("country", "")) or None)
        elif action == "resend":
            number = str(pending.data.get("number", ""))
            if not number:
                raise MalformedInput(_("Enter your phone number."))
            target = registry.get(pending.kind)
        else:
            raise MalformedInput()
        assert isinstance(target, PhoneMethod)
        if _sent_already(target, pending, number, action, now=now):
            return pending
        with refusals_audited(now=now), transaction.atomic():
            locked = PendingEnrolment.objects.select_for_update().get(pk=pending.pk)
            if locked.consumed:
                raise AlreadyCompleted()
            # Under the send lock, read again: of racing clicks the first sends, the others
            # see its text or call (BEGIN IMMEDIATE on SQLite, row locks on PostgreSQL).
            lock_sends()
            if _sent_already(target, locked, number, action, now=now):
                return locked
            before = {"kind": locked.kind, "data": dict(locked.data)}
            locked.kind = target.kind
            locked.data = {**locked.data, "number": number}
            locked.save(update_fields=["kind", "data"])
            message = target.deliver_enrolment(locked, now=now, ip=ip)
            # Counted with the text or call, in this transaction: reserve first.
            send = Send(number, locked.user, ip, target.kind, enrolment=True)
            reserve(send, now=now, message=message)
        try:
            outbox.raise_if_failed(message)
        except GatewayError:
            # Nothing half-saved: the page asks for the number again (the send was refunded
            # and the code or call retired by the outbox's undelivered handlers).
            PendingEnrolment.objects.filter(pk=locked.pk, consumed=False).update(**before)
            raise
        return locked

    def save_verified(
        self, pending: PendingEnrolment, number: str, *, now: dt.datetime, name: str = ""
    ) -> RegisteredMethod:
        """Save the phone just proved, in the caller's transaction (with the consumed
        enrolment); a changed number replaces the old phone there too, nothing half-done."""
        old = service.replaced_by(pending)
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
        old = service.replaced_by(pending)
        known = known_number(pending.user) if not number and old is None else ""
        return {
            # Masked: enough for the person to recognise their phone, little to anyone else.
            "known_number": mask(known) if known else "",
            "replacing": registry.get(old.kind).describe(old) if old else "",
            "number": display(number) if number else "",
            "countries": country_choices(),
            "default_country": settings.PHONE_DEFAULT_COUNTRY,
            "resend_wait": resend_wait(self.last_delivery(pending), now=clock.now())
            if number
            else 0,
        }
