"""Recovery codes: ten single-use codes to print or save, a way back in without the helpdesk.

A code is 12 characters of Crockford's base32 (as a temporary access pass: no I, L, O or U),
about 60 random bits, shown once in groups of four. Each is kept as a salted HMAC-SHA-256
keyed with the deployment's secret key, not with argon2: the codes are random, not chosen by
people, so a slow hash would protect nothing that 60 bits do not already protect, while a
sign-in compares the typed code with all ten (ten argon2 hashes would be ~160 ms of CPU per
try, an easy denial of service). The key means that a copy of the database alone does not
let anyone test guesses offline.

The person confirms the enrolment by typing one of the codes shown (proof that they kept
them; that code stays valid). A person has one set: making new ones replaces the whole set
once the new one is confirmed. A code is used with a conditional UPDATE, once.

RFC 8176 has no value for a look-up secret (NIST SP 800-63B §5.1.2); it is a one-time
password the person keeps on paper, so ``amr`` says "otp", which services already read as
"a one-time code, not phishing-resistant". Codes are a fallback: never the default, offered
under "Sign in another way".
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import Any

from django.db import transaction
from django.utils import dateformat, timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from vahva.audit.log import record
from vahva.conf import settings
from vahva.errors import ExpiredChallenge, InvalidCode, MalformedInput, ReplayedCode

from . import service, tap
from .base import AttemptRef, Method
from .models import PendingEnrolment, RecoveryCode, RegisteredMethod

KIND = "recovery"
COUNT = 10
LENGTH = tap.LENGTH

SHAPE = _("A recovery code has 12 letters and digits, for example K7QM-3XRD-PW9T.")
WRONG = _("That recovery code is not right. Check it and try again.")
USED = _("That recovery code was already used. Each code works once: use another one.")
NOT_SHOWN = _("That is not one of the codes shown above. Type one of them to show you saved them.")


class CodesUsedUp(ExpiredChallenge):
    default_message = _(
        "You have used all your recovery codes. Sign in another way, then make new codes on "
        "Security info."
    )


def generate() -> list[str]:
    """COUNT new codes, ungrouped, from :mod:`secrets` (60 bits each)."""
    return ["".join(secrets.choice(tap.ALPHABET) for _ in range(LENGTH)) for _ in range(COUNT)]


def normalise(raw: str) -> str:
    """A code as typed, with or without dashes or spaces, in any case; MalformedInput (not
    counted as a guess) for what cannot be a code."""
    text = raw or ""
    if len(text) > 64:
        raise MalformedInput(SHAPE)
    code = tap._SEPARATORS.sub("", text).upper().translate(tap._LOOKALIKES)
    if not code:
        raise MalformedInput(_("Enter one of your recovery codes."))
    if len(code) != LENGTH or any(c not in tap.ALPHABET for c in code):
        raise MalformedInput(SHAPE)
    return code


def digest(code: str, salt: str) -> str:
    # Keyed and salted per code: a database copy alone tests no guesses, equal codes differ.
    return salted_hmac(f"vahva.methods.recovery.{salt}", code, algorithm="sha256").hexdigest()


def remaining(registered: RegisteredMethod) -> int:
    return RecoveryCode.objects.filter(registered=registered, used_at__isnull=True).count()


def recovery_of(user: Any) -> RegisteredMethod | None:
    """The person's set of recovery codes, if they made one."""
    return RegisteredMethod.objects.filter(user=user, kind=KIND).first()


def download_text(codes: list[str], *, email: str, now: dt.datetime) -> str:
    """The .txt file (and the printout) of a new set."""
    when = dateformat.format(timezone.localtime(now), "j.n.Y")
    lines = [
        gettext("%(org)s recovery codes for %(email)s, made %(date)s")
        % {"org": settings.ORGANISATION_NAME, "email": email, "date": when},
        "",
        *(tap.grouped(code) for code in codes),
        "",
        gettext("Each code works once. Keep them where only you can find them."),
    ]
    return "\n".join(lines) + "\n"


class RecoveryCodesMethod(Method):
    kind = KIND
    label = _("Recovery codes")
    description = _(
        "Ten single-use codes to print or save, for when you cannot use your other methods."
    )
    prompt = _("Enter one of your recovery codes")
    amr = ("otp",)
    fallback = True
    letters = True
    verified_message = _("Recovery codes saved")

    def describe(self, registered: RegisteredMethod) -> str:
        left = remaining(registered)
        return ngettext(
            "Recovery codes (%(count)d of %(total)d left)",
            "Recovery codes (%(count)d of %(total)d left)",
            left,
        ) % {"count": left, "total": COUNT}

    def added_message(self, registered: RegisteredMethod) -> str:
        return gettext(
            "Your recovery codes are saved: %(count)d codes, each for one sign-in. Keep them "
            "where only you can find them."
        ) % {"count": remaining(registered)}

    def used_message(self, registered: RegisteredMethod) -> str:
        left = remaining(registered)
        if left == 0:
            return gettext(
                "You used your last recovery code. Make new codes below, so that you have a "
                "way back in next time."
            )
        return ngettext(
            "You used a recovery code. %(count)d code is left.",
            "You used a recovery code. %(count)d codes are left.",
            left,
        ) % {"count": left}

    # --- sign-in ---------------------------------------------------------------------------

    def begin(
        self, registered: RegisteredMethod, *, now: dt.datetime, attempt: AttemptRef | None = None
    ) -> dict[str, Any]:
        left = remaining(registered)
        if left == 0:
            # Exhausted: said at once, before anyone types a code that cannot work.
            raise CodesUsedUp()
        return {"remaining": left}

    def verify(self, registered: RegisteredMethod, response: str, *, now: dt.datetime) -> None:
        code = normalise(response)
        rows = list(RecoveryCode.objects.filter(registered=registered))
        if not any(row.used_at is None for row in rows):
            raise CodesUsedUp()
        match = None
        for row in rows:
            # Timing attack: every code is compared, each in constant time.
            if hmac.compare_digest(row.digest, digest(code, row.salt)) and match is None:
                match = row
        if match is None:
            raise InvalidCode(WRONG)
        if match.used_at is not None:
            raise ReplayedCode(USED)
        # Single use even when two requests race: only one UPDATE finds the code unused.
        taken = RecoveryCode.objects.filter(pk=match.pk, used_at__isnull=True).update(used_at=now)
        if not taken:
            raise ReplayedCode(USED)
        service.touch(registered, now=now)
        record(
            "recovery.used",
            subject=registered.user,
            actor=registered.user,
            reason="a recovery code was used",
            method_id=registered.pk,
            remaining=remaining(registered),
        )

    # --- enrolment -------------------------------------------------------------------------

    def start_enrolment(self, user: Any, *, now: dt.datetime) -> PendingEnrolment:
        # The codes are shown again on a reload until confirmed: the pending enrolment keeps
        # them (encrypted at rest) and forgets them once the set is saved.
        return service.new_pending(
            user, self.kind, now=now, ttl=settings.ENROLMENT_TTL, secret=" ".join(generate())
        )

    def enrolment_context(self, pending: PendingEnrolment) -> dict[str, Any]:
        codes = pending.secret.split()
        current = recovery_of(pending.user)
        return {
            "codes": [tap.grouped(code) for code in codes],
            "download": download_text(codes, email=pending.user.email, now=pending.created_at),
            "replacing": current,
            "replacing_left": remaining(current) if current else 0,
        }

    def finish_enrolment(
        self, pending: PendingEnrolment, response: str, *, now: dt.datetime, name: str = ""
    ) -> RegisteredMethod:
        code = normalise(response)
        codes = pending.secret.split()
        try:
            with transaction.atomic():
                # First: a double-submitted form meets AlreadyCompleted, an old one Expired.
                service.consume_pending(pending, now=now)
                if not any(hmac.compare_digest(code, shown) for shown in codes):
                    raise InvalidCode(NOT_SHOWN)
                replaced = RegisteredMethod.objects.filter(user=pending.user, kind=KIND)
                old = [m.pk for m in replaced]
                # The new set replaces the old one whole, in this transaction: never half.
                replaced.delete()
                saved = service.save_new(pending.user, self.kind, now=now)
                RecoveryCode.objects.bulk_create(
                    RecoveryCode(registered=saved, salt=salt, digest=digest(shown, salt))
                    for shown, salt in ((shown, secrets.token_hex(16)) for shown in codes)
                )
                # Shown once: the clear codes leave the database when the set is saved.
                PendingEnrolment.objects.filter(pk=pending.pk).update(secret="")
                if old:
                    record(
                        "recovery.regenerated",
                        subject=pending.user,
                        actor=pending.user,
                        reason="new recovery codes replace the old ones",
                        method_id=saved.pk,
                        old_method_ids=old,
                    )
        except InvalidCode:
            pending.consumed = False  # rolled back with the transaction: try again
            raise
        pending.secret = ""
        return saved
