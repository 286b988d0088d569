"""The helpdesk verifies a caller with a code sent to a registered number.

The agent clicks "Text a code" (or "Call with a code"); the phone gets a 6-digit code for
that one helpdesk check and the caller reads it back. The code is an :class:`.PhoneCode` of
the registered phone whose ``attempt`` is ``helpdesk:<check id>``: a sign-in never looks codes
up under that name, and a check looks up only its own, so a code sent for one check (or for
a sign-in) is refused for another. Single use, PHONE_CODE_TTL, PHONE_CODE_TRIES, as any text;
the send is reserved against the SMS-pumping limits like any other and leaves through the
outbox after the commit.

A call speaks the code (the sign-in calls never do: a voicemail box must not keep one). Here
the code opens nothing but the agent's page for this check, for a few minutes, and the call
says to give it to nobody who has not just called the helpdesk.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext

from vahva.conf import settings
from vahva.gateways import outbox
from vahva.gateways.base import Call
from vahva.gateways.models import OutboxMessage
from vahva.methods import service
from vahva.methods.base import CallerCheck, CallerProof
from vahva.methods.models import RegisteredMethod

from . import common as phone
from .models import PhoneCode
from .sms import digest, new_code, use_code

if TYPE_CHECKING:
    from vahva.accounts.models import User

#: The ``attempt`` of a helpdesk check's codes (no sign-in attempt id looks like it).
PREFIX = "helpdesk:"


def attempt_of(check: str) -> str:
    return f"{PREFIX}{check}"[:64]


def _number(registered: RegisteredMethod) -> str:
    return str(registered.data.get("number", ""))


def checks(user: User, kind: str, *, call: bool) -> list[CallerCheck]:
    """One way per registered phone of ``kind``: a text, or a call that says the code."""
    found = []
    for registered in service.registered_for(user):
        if registered.kind != kind or not _number(registered):
            continue
        masked = phone.mask(_number(registered))
        if call:
            label = gettext("Call %(number)s with a code") % {"number": masked}
            hint = gettext(
                "We call the number and say a 6-digit code twice. Ask the caller to read it "
                "back to you."
            )
        else:
            label = gettext("Text a code to %(number)s") % {"number": masked}
            hint = gettext("We text a 6-digit code to the number. Ask the caller to read it out.")
        found.append(CallerCheck(registered=registered.pk, label=label, hint=hint, sends=True))
    return found


def text_of(code: str, *, language: str) -> str:
    """The text: who sends it and why; whoever did not call the helpdesk gives it to nobody."""
    with translation.override(language):
        return gettext(
            "%(code)s is your code for the %(org)s helpdesk. Read it out only to the helpdesk "
            "agent you called. If you did not call the helpdesk, give it to nobody."
        ) % {"code": code, "org": settings.ORGANISATION_NAME}


def speech_of(code: str, *, language: str) -> str:
    """The call: the code digit by digit, twice."""
    digits = ", ".join(code)
    with translation.override(language):
        said = gettext(
            "Hello, this is %(org)s. The helpdesk asked us to call you with a code. Your code "
            "is %(digits)s. Read it out only to the helpdesk agent you called. If you did not "
            "call the helpdesk, give it to nobody."
        ) % {"org": settings.ORGANISATION_NAME, "digits": digits}
    return f"{said} {said}"


def send(registered: RegisteredMethod, *, check: str, now: dt.datetime, call: bool) -> str:
    """Text (or call) a new code for the helpdesk check ``check`` to ``registered``'s number;
    what was done, in a sentence. LimitReached (audited) when a texts-and-calls limit is full."""
    number = _number(registered)
    user = registered.user
    language = phone.language_of(user)
    code = new_code()
    salt = secrets.token_hex(16)
    expires_at = now + dt.timedelta(seconds=settings.PHONE_CODE_TTL)
    kind = registered.kind
    with phone.refusals_audited(now=now), transaction.atomic():
        # Reserve first, under the send lock: the helpdesk's texts count against the same
        # limits as everyone's (SMS pumping through the helpdesk page is still pumping).
        phone.lock_sends()
        mine = PhoneCode.objects.filter(registered=registered, attempt=attempt_of(check))
        # "Send another code": only the newest works.
        mine.filter(used=False).update(used=True)
        message: OutboxMessage
        if call:
            message = outbox.enqueue_call(
                Call(
                    number=number,
                    # Not a PhoneCall's id: the call asks for no key, its events change nothing.
                    call_id=f"helpdesk-{uuid.uuid4()}",
                    say=speech_of(code, language=language),
                    language=language,
                ),
                now=now,
                expires_at=expires_at,
            )
        else:
            message = outbox.enqueue_sms(
                number, text_of(code, language=language), now=now, expires_at=expires_at
            )
        row = PhoneCode.objects.create(
            user=user,
            registered=registered,
            attempt=attempt_of(check),
            number=number,
            salt=salt,
            digest=digest(code, salt),
            created_at=now,
            expires_at=expires_at,
            message=message,
        )
        phone.reserve(phone.Send(number, user, None, kind), now=now, message=message)
    # After the commit the outbox has tried the gateway: a refusal is said at once.
    outbox.raise_if_failed(row.message_id)
    masked = phone.mask(number)
    if call:
        return gettext("We are calling %(number)s with a code.") % {"number": masked}
    return gettext("A code was texted to %(number)s.") % {"number": masked}


def check(
    registered: RegisteredMethod, code: str, *, check: str, now: dt.datetime, call: bool
) -> CallerProof:
    """Accept ``code`` only as the newest code sent for this ``check``, once."""
    use_code(
        PhoneCode.objects.filter(registered=registered, attempt=attempt_of(check)), code, now=now
    )
    masked = phone.mask(_number(registered))
    if call:
        return CallerProof(
            reason=f"a code called to {masked}",
            said=gettext("a code called to %(number)s") % {"number": masked},
        )
    return CallerProof(
        reason=f"a code texted to {masked}",
        said=gettext("a code texted to %(number)s") % {"number": masked},
    )
