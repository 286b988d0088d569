"""Recovery codes: ten single-use codes to print or save, a way back in without the helpdesk.

A code is 25 characters of Crockford's base32 (as a temporary access pass: no I, L, O or U),
shown once in five groups of five (``7KQM3-XRDPW-9TK7Q-M3XRD-PW9TA``, the shape of a software
licence key). The first two characters are a public index that picks the one row of the set
to compare with; the other 23 are the secret, 115 random bits: ASVS 5.0 asks look-up secrets
for at least 112 bits, or a slow hash. Each code is kept as a salted HMAC-SHA-256 keyed with
the deployment's secret key, not with argon2: 115 random bits need no slowing down, and a
check stays one fast keyed hash compared in constant time. The key means that a copy of the
database alone does not let anyone test guesses offline.

Codes made before the index existed (12 characters, about 60 bits, no index) keep working
until they are used or replaced: a person's printout is not silently taken away. Security info
says that the set is of the old, shorter kind and invites the person to make new codes.

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
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import dateformat, timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from vahva.audit.log import record
from vahva.audit.models import AuditEvent
from vahva.conf import settings
from vahva.errors import ExpiredChallenge, InvalidCode, MalformedInput, ReplayedCode
from vahva.methods import service, tap
from vahva.methods.base import Answer, AttemptRef, CallerCheck, CallerProof, Include, Method, Role
from vahva.methods.challenges import TypeCode
from vahva.methods.models import PendingEnrolment, RegisteredMethod

from .models import RecoveryCode

if TYPE_CHECKING:
    from vahva.accounts.models import User

KIND = "recovery"
COUNT = 10
#: Characters of a code: the public index, then the secret.
LENGTH = 25
#: The public index: picks the row, unique within a set (32**2 = 1,024 values for ten codes).
INDEX = 2
#: 23 characters of 5 bits: 115 bits, at least ASVS 5.0's 112 for look-up secrets.
SECRET_BITS = (LENGTH - INDEX) * 5
GROUP = 5
#: Codes made before the index existed: 12 characters, no index (they keep working).
OLD_LENGTH = 12

SHAPE = _(
    "A recovery code has 25 letters and digits in groups of five, for example "
    "7KQM3-XRDPW-9TK7Q-M3XRD-PW9TA."
)
WRONG = _("That recovery code is not right. Check it and try again.")
USED = _("That recovery code was already used. Each code works once: use another one.")
NOT_SHOWN = _("That is not one of the codes shown above. Type one of them to show you saved them.")


class CodesUsedUp(ExpiredChallenge):
    default_message = _(
        "You have used all your recovery codes. Sign in another way, then make new codes on "
        "Security info."
    )


def generate() -> list[str]:
    """COUNT new codes, ungrouped, from :mod:`secrets`, each with an index of its own."""
    codes: list[str] = []
    while len(codes) < COUNT:
        code = "".join(secrets.choice(tap.ALPHABET) for _ in range(LENGTH))
        if all(code[:INDEX] != other[:INDEX] for other in codes):
            codes.append(code)
    return codes


def grouped(code: str) -> str:
    """``7KQM3XRDPW…`` → ``7KQM3-XRDPW-…``: five groups of five, for reading and typing."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def normalise(raw: str) -> str:
    """A code as typed, with or without dashes or spaces, in any case; MalformedInput (not
    counted as a guess) for what cannot be a code (of the new kind or the old)."""
    text = raw or ""
    if len(text) > 64:
        raise MalformedInput(SHAPE)
    code = tap._SEPARATORS.sub("", text).upper().translate(tap._LOOKALIKES)
    if not code:
        raise MalformedInput(_("Enter one of your recovery codes."))
    if len(code) not in (LENGTH, OLD_LENGTH) or any(c not in tap.ALPHABET for c in code):
        raise MalformedInput(SHAPE)
    return code


def index_of(code: str) -> str:
    """The public index of a normalised code ("" for a code of the old kind)."""
    return code[:INDEX] if len(code) == LENGTH else ""


def digest(code: str, salt: str) -> str:
    # Keyed and salted per code: a database copy alone tests no guesses, equal codes differ.
    return salted_hmac(f"vahva.methods.recovery.{salt}", code, algorithm="sha256").hexdigest()


def remaining(registered: RegisteredMethod) -> int:
    return RecoveryCode.objects.filter(registered=registered, used_at__isnull=True).count()


def is_old_kind(registered: RegisteredMethod) -> bool:
    """Whether the set was made before codes had an index (12 characters, about 60 bits)."""
    return RecoveryCode.objects.filter(registered=registered, index="").exists()


def recovery_of(user: User) -> RegisteredMethod | None:
    """The person's set of recovery codes, if they made one."""
    return RegisteredMethod.objects.filter(user=user, kind=KIND).first()


def download_text(codes: list[str], *, email: str, now: dt.datetime) -> str:
    """The .txt file (and the printout) of a new set."""
    when = dateformat.format(timezone.localtime(now), "j.n.Y")
    lines = [
        gettext("%(org)s recovery codes for %(email)s, made %(date)s")
        % {"org": settings.ORGANISATION_NAME, "email": email, "date": when},
        "",
        *(grouped(code) for code in codes),
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
    answer = Answer.LETTERS
    role = Role.FALLBACK
    verified_message = _("Recovery codes saved")

    def security_row(self, registered: RegisteredMethod) -> Include | None:
        return Include("methods/recovery/_security_row.html", {})

    def security_section(self, user: User, *, now: dt.datetime) -> Include | None:
        """How many codes are left, and when (and from where) they were used."""
        codes = recovery_of(user)
        if codes is None:
            return Include("methods/recovery/_security_section.html", {"method": None})
        uses = AuditEvent.objects.filter(
            subject_id=getattr(user, "pk", None),
            action__in=("signin.success", "signin.confirm"),
            data__method=KIND,
            at__gte=codes.created_at,
        ).order_by("-at", "-id")[:10]
        return Include(
            "methods/recovery/_security_section.html",
            {"method": codes, "left": remaining(codes), "total": COUNT, "uses": list(uses)},
        )

    def describe(self, registered: RegisteredMethod) -> str:
        left = remaining(registered)
        if is_old_kind(registered):
            # Still working, but shorter than ASVS 5.0 asks: the person is invited to replace it.
            return ngettext(
                "Recovery codes (%(count)d of %(total)d left, of an older, shorter kind: "
                "make new codes)",
                "Recovery codes (%(count)d of %(total)d left, of an older, shorter kind: "
                "make new codes)",
                left,
            ) % {"count": left, "total": COUNT}
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
    ) -> TypeCode:
        left = remaining(registered)
        if left == 0:
            # Exhausted: said at once, before anyone types a code that cannot work.
            raise CodesUsedUp()
        return TypeCode(letters=True, left=left)

    def verify(self, registered: RegisteredMethod, response: str, *, now: dt.datetime) -> None:
        code = normalise(response)
        rows = list(RecoveryCode.objects.filter(registered=registered))
        if not any(row.used_at is None for row in rows):
            raise CodesUsedUp()
        index = index_of(code)
        # The index picks the one row (a code of the old kind: the rows without one).
        candidates = [row for row in rows if row.index == index]
        match = None
        for row in candidates:
            # Timing attack: every candidate is compared, each in constant time.
            if hmac.compare_digest(row.digest, digest(code, row.salt)) and match is None:
                match = row
        if not candidates:
            # An index of no code here costs the same one keyed hash as a wrong secret.
            hmac.compare_digest(digest(code, "none"), "0" * 64)
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

    def start_enrolment(self, user: User, *, now: dt.datetime) -> PendingEnrolment:
        # The codes are shown again on a reload until confirmed: the pending enrolment keeps
        # them (encrypted at rest) and forgets them once the set is saved.
        return service.new_pending(
            user, self.kind, now=now, ttl=settings.ENROLMENT_TTL, secret=" ".join(generate())
        )

    def enrolment_context(self, pending: PendingEnrolment) -> dict[str, Any]:
        codes = pending.secret.split()
        current = recovery_of(pending.user)
        return {
            "codes": [grouped(code) for code in codes],
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
                    RecoveryCode(
                        registered=saved,
                        index=index_of(shown),
                        salt=salt,
                        digest=digest(shown, salt),
                    )
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

    # --- the helpdesk verifies a caller (issue #19 item 9) ------------------------------------

    def caller_checks(self, user: User, *, now: dt.datetime) -> list[CallerCheck]:
        codes = recovery_of(user)
        if codes is None or remaining(codes) == 0:
            return []
        return [
            CallerCheck(
                registered=codes.pk,
                label=self.describe(codes),
                hint=gettext(
                    "Ask the caller to read out one of their unused recovery codes. The code "
                    "is then used up, as if they had signed in with it, and they are told so."
                ),
                consumes=True,
            )
        ]

    def check_caller(
        self, registered: RegisteredMethod, code: str, *, check: str, now: dt.datetime
    ) -> CallerProof:
        # The same check as at sign-in, so the code is used up: a code read out over the
        # phone (perhaps overheard) can never sign anyone in afterwards.
        self.verify(registered, code, now=now)
        return CallerProof(
            reason="a recovery code read out (now used up)",
            said=gettext("a recovery code, read out (it is now used up)"),
        )

    def caller_check_used(self, registered: RegisteredMethod) -> str:
        left = remaining(registered)
        return ngettext(
            "One of your recovery codes was read out to the helpdesk to verify you, and it is "
            "now used up. %(count)d code is left.",
            "One of your recovery codes was read out to the helpdesk to verify you, and it is "
            "now used up. %(count)d codes are left.",
            left,
        ) % {"count": left}
