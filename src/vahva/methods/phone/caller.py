"""The helpdesk verifies a caller with a code sent to a registered number.

The agent clicks "Text a code" (or "Call with a code"); the phone gets a 6-digit code for
that one helpdesk check and the caller reads it back. The code is an :class:`.PhoneCode` of
the registered phone whose ``attempt`` is ``helpdesk:<check id>``: a sign-in never looks codes
up under that name, and a check looks up only its own, so a code sent for one check (or for
a sign-in) is refused for another. Single use, PHONE_CODE_TTL, PHONE_CODE_TRIES, as any text;
the send is reserved against the SMS-pumping limits like any other and leaves through the
outbox after the commit.

A call says who calls and why, and only on # the code, twice, digit by digit: a voicemail box
never presses #, so no code reaches one (boxes with default PINs are a known way into
accounts, and a voicemail-reading impostor on the line with the helpdesk would pass). 0# says
the person did not call the helpdesk: the code dies, the agent's page refuses it with that
reason, the audit log and the helpdesk hear of it (also when the code was already accepted).

Where the code is when # arrives, without being kept in clear anywhere at rest: the call id is
a fresh random UUID (what every gateway takes: Twilio's webhooks accept only a UUID, the dev
phone 64 characters), and the code is derived from it under vahva's encryption key,
``HMAC(HKDF(key, "vahva.helpdesk-call-code"), call id)`` reduced to 6 digits. The call's
:class:`.PhoneCode` row keeps only the usual salted digest, with the call id as its salt, so
``#`` on call X finds the row (and with it the check, the expiry, single use and "Send another
code"), derives the code again and speaks it only if it matches the digest. A forged or
altered call id finds no row; an expired, used, superseded or reported one gets a goodbye; a
key rotated away derives a code that does not match (goodbye, fail closed). The outbox row and
the gateway see the call id and the first words only; the code needs the key.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from vahva import crypto
from vahva.audit.log import record
from vahva.audit.models import AuditEvent
from vahva.conf import settings
from vahva.errors import VahvaError
from vahva.gateways import outbox
from vahva.gateways.base import Answer, Call, CallEvent, CallEventKind, CallReply
from vahva.gateways.models import OutboxMessage
from vahva.methods import service
from vahva.methods.base import CallerCheck, CallerProof
from vahva.methods.models import RegisteredMethod

from . import common as phone
from .models import PhoneCode
from .sms import DIGITS, digest, new_code, use_code

if TYPE_CHECKING:
    from vahva.accounts.models import User

#: The audit action of 0# on the helpdesk's call (as on a sign-in call).
REPORTED = "phone.reported"
#: The ``attempt`` of a helpdesk check's codes (no sign-in attempt id looks like it).
PREFIX = "helpdesk:"


def attempt_of(check: str) -> str:
    return f"{PREFIX}{check}"[:64]


def _number(registered: RegisteredMethod) -> str:
    return str(registered.data.get("number", ""))


def _language(user: User, registered: RegisteredMethod) -> str:
    """The person's language (or the one the phone was registered in): never the agent's,
    whose request is active when the code is sent, nor the webhook's, which has none, so
    the first words and the reply to # are in one language."""
    chosen = str(getattr(user, "language", "") or "") or str(registered.data.get("language", ""))
    return (chosen or str(django_settings.LANGUAGE_CODE))[:2]


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
                "We call the number; the 6-digit code is said only after the person presses "
                "#, so no voicemail box keeps it. Ask the caller to read it back to you."
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


def script(*, language: str) -> dict[str, str]:
    """What the helpdesk's call says, in the person's language. The code only in ``code``."""
    org = settings.ORGANISATION_NAME
    with translation.override(language):
        say = gettext(
            "Hello, this is %(org)s. The helpdesk asked us to call you with a code. To hear "
            "the code, press the hash key. If you did not call the helpdesk, press zero and "
            "then the hash key, and we will tell the helpdesk."
        ) % {"org": org}
        return {
            "say": f"{say} {say}",
            "code": gettext(
                "Your code is %(digits)s. Again: %(digits)s. Read it out only to the helpdesk "
                "agent you called. If you did not call the helpdesk, give it to nobody. To "
                "hear the code again, press the hash key."
            ),
            "again": gettext(
                "Press the hash key to hear the code, or zero and the hash key if you did not "
                "call the helpdesk."
            ),
            "over": gettext(
                "This code is no longer valid. If you need one, ask the helpdesk to call "
                "again. Goodbye."
            ),
            "reported": gettext(
                "Thank you. We have told the helpdesk, and the code will not be accepted. Goodbye."
            ),
            "silence": gettext("We did not hear a key. Goodbye."),
        }


def speech_of(code: str, *, language: str) -> str:
    """What # gets: the code digit by digit, twice."""
    return script(language=language)["code"] % {"digits": ", ".join(code)}


def _key_bytes(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _call_code(call_id: str, key_id: str) -> str:
    """The code a helpdesk call with ``call_id`` says, under encryption key ``key_id``."""
    # Its own key derived from vahva's (HKDF): the AES-GCM key itself never keys an HMAC.
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"vahva.helpdesk-call-code"
    ).derive(_key_bytes(str(settings.ENCRYPTION_KEYS[key_id])))
    mac = hmac.new(derived, call_id.encode(), hashlib.sha256).digest()
    # 64 bits reduced to 6 digits: the bias (under 1e-13) helps no guesser.
    return f"{int.from_bytes(mac[:8], 'big') % 10**DIGITS:0{DIGITS}d}"


def _recovered(row: PhoneCode, call_id: str) -> str | None:
    """The code of the call ``call_id``: the one its row's digest was made of, under any
    configured key (the current one first; one rotated in since still finds it)."""
    current = crypto.current_key_id()
    for key_id in [current, *(k for k in settings.ENCRYPTION_KEYS if k != current)]:
        code = _call_code(call_id, str(key_id))
        if hmac.compare_digest(row.digest, digest(code, row.salt)):
            return code
    return None


def send(registered: RegisteredMethod, *, check: str, now: dt.datetime, call: bool) -> str:
    """Text (or call) a new code for the helpdesk check ``check`` to ``registered``'s number;
    what was done, in a sentence. LimitReached (audited) when a texts-and-calls limit is full."""
    number = _number(registered)
    user = registered.user
    language = _language(user, registered)
    call_id = uuid.uuid4()
    # A call's code is derived from its call id (see the module docstring), a text's is random.
    code = _call_code(str(call_id), crypto.current_key_id()) if call else new_code()
    # The call's row is found by its call id: the salt (random either way, and public as
    # salts are) is the id's hex.
    salt = call_id.hex if call else secrets.token_hex(16)
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
            words = script(language=language)
            message = outbox.enqueue_call(
                Call(
                    number=number,
                    # A UUID like a sign-in call's (what Twilio's webhooks accept), but no
                    # PhoneCall's: calls.on_call_event hands its events to on_call_event here.
                    call_id=str(call_id),
                    # No code in the first words: a voicemail box records them.
                    say=words["say"],
                    language=language,
                    silence=words["silence"],
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
    if call and _reported(check):
        # The person said on the call that they did not call the helpdesk: whoever reads the
        # code out (heard over their shoulder, or from their phone) is not them.
        raise CallReported()
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


class CallReported(VahvaError):
    status = 403
    default_message = _(
        "The person pressed 0 on our call: they did not call the helpdesk. Do not verify this "
        "caller; contact the person on a channel you know is theirs."
    )


def _reported(check: str) -> bool:
    return AuditEvent.objects.filter(action=REPORTED, data__check=check).exists()


def _live(row: PhoneCode, *, now: dt.datetime) -> bool:
    return not row.used and row.expires_at > now and row.tries < settings.PHONE_CODE_TRIES


def on_call_event(event: CallEvent, *, now: dt.datetime) -> Answer:
    """An event on a call that is no sign-in call: the helpdesk's call with a code, if its
    id is one (UNKNOWN otherwise). # says the code while it may still be read out, 0#
    reports the call; anything else asks again. Run in the caller's transaction."""
    try:
        call_id = uuid.UUID(event.call_id)
    except ValueError:
        return Answer(CallReply.UNKNOWN)
    row = (
        PhoneCode.objects.select_for_update()
        .filter(salt=call_id.hex, attempt__startswith=PREFIX, registered__isnull=False)
        .select_related("user", "registered")
        .first()
    )
    if row is None or row.registered is None:
        # A forged or altered call id: no row, no code.
        return Answer(CallReply.UNKNOWN)
    if event.kind != CallEventKind.KEYS:
        return Answer(CallReply.CONTINUE)
    language = _language(row.user, row.registered)
    words = script(language=language)
    keys = event.keys.strip()
    check = row.attempt.removeprefix(PREFIX)
    if keys.startswith("0"):
        # Heard even after the code was used: "that was not me" matters most once an
        # impostor has read the code out. Once per check (a replayed 0# alerts nobody twice).
        if _reported(check):
            return Answer(CallReply.GOODBYE, words["over"], language)
        _report(row, check=check)
        return Answer(CallReply.REPORTED, words["reported"], language)
    # Expired, used by the agent, replaced by "Send another code", too many wrong codes read
    # out, or reported: a # long after the check must not say a code still worth guessing.
    if not _live(row, now=now):
        return Answer(CallReply.GOODBYE, words["over"], language)
    if not keys.startswith("#"):
        return Answer(CallReply.AGAIN, words["again"], language)
    code = _recovered(row, str(call_id))
    if code is None:
        # The key it was derived under is gone (or the row was altered): fail closed.
        return Answer(CallReply.GOODBYE, words["over"], language)
    # AGAIN: the call goes on listening, so # says it once more.
    return Answer(CallReply.AGAIN, speech_of(code, language=language), language)


def _report(row: PhoneCode, *, check: str) -> None:
    """0#: the person did not call the helpdesk, so whoever did is not them."""
    # The impostor on the line with the agent must not pass with this code.
    PhoneCode.objects.filter(pk=row.pk).update(used=True)
    user = row.user
    masked = phone.mask(row.number)
    record(
        REPORTED,
        subject=user,
        outcome="failure",
        reason="0# pressed on the helpdesk's call: the person did not call the helpdesk",
        check=check,
        number=masked,
    )
    with outbox.in_staff_language():
        body = "\n".join(
            [
                gettext(
                    "%(email)s pressed 0# on the helpdesk's call with a code: they did not call "
                    "the helpdesk."
                )
                % {"email": user.email},
                gettext("Phone: %(number)s") % {"number": masked},
                gettext("Caller check: %(check)s") % {"check": check},
                "",
                gettext(
                    "Whoever is on the line with the helpdesk as this person is probably not "
                    "them: do not verify the caller, and contact the person on a known channel."
                ),
                *(
                    [
                        gettext(
                            "The code may already have been read out and accepted: check what "
                            "the helpdesk did for this caller, and undo it."
                        )
                    ]
                    if row.used
                    else []
                ),
            ]
        )
        subject = gettext("Helpdesk call reported: %(email)s") % {"email": user.email}
    # Mailed after the commit by the outbox: a rolled-back report alerts nobody.
    phone.alert(subject, body)
