"""Authenticator-app codes (TOTP, RFC 6238) for any app: a 160-bit secret, 30 s steps.

The checks are plain functions of (secret, code, time, last accepted step), tested with the
RFC's own vectors; :class:`TotpMethod` plugs them into the method interface.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from typing import TYPE_CHECKING, Any

import pyotp
import segno
from django.db import transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from vahva.conf import settings
from vahva.errors import InvalidCode, MalformedInput

from . import service
from .base import Answer, CallerCheck, Method, WizardStep
from .models import PendingEnrolment, RegisteredMethod

if TYPE_CHECKING:
    from vahva.accounts.models import User

STEP = 30
DIGITS = 6
#: Steps accepted either side of now, for clocks that drift (RFC 6238 §5.2).
WINDOW = 1
_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
_SPACES = re.compile(r"[\s-]+")


def generate_secret() -> str:
    """A new random 160-bit secret (RFC 4226 §4 recommends 160 bits), base32."""
    return pyotp.random_base32(32)


def normalise_code(raw: str, *, digits: int = DIGITS) -> str:
    """Strip the spaces and dashes apps show inside codes; refuse anything but digits."""
    code = _SPACES.sub("", raw or "")
    if not code:
        raise MalformedInput(_("Enter the code."))
    if not code.isascii() or not code.isdigit() or len(code) != digits:
        raise MalformedInput(
            _("The code is %(digits)d digits, for example %(example)s.")
            % {"digits": digits, "example": "12345678"[:digits]}
        )
    return code


def code_at(secret: str, step: int, *, digits: int = DIGITS, algorithm: str = "sha1") -> str:
    totp = pyotp.TOTP(secret, digits=digits, digest=_DIGESTS[algorithm], interval=STEP)
    return totp.generate_otp(step)


def step_of(moment: dt.datetime) -> int:
    return int(moment.timestamp()) // STEP


def match_step(
    secret: str,
    code: str,
    *,
    now: dt.datetime,
    digits: int = DIGITS,
    algorithm: str = "sha1",
    window: int = WINDOW,
) -> int:
    """Return the time step ``code`` belongs to, within ``window`` steps of ``now``.

    Raises InvalidCode. Every candidate is compared, in constant time, so the time taken does
    not tell an attacker which digits or which step were close.
    """
    current = step_of(now)
    matched: int | None = None
    for offset in range(-window, window + 1):
        candidate = code_at(secret, current + offset, digits=digits, algorithm=algorithm)
        # Timing attack on the comparison: compare_digest takes the same time for any input.
        if hmac.compare_digest(candidate, code) and matched is None:
            matched = current + offset
    if matched is None:
        raise InvalidCode()
    return matched


def code_matches(secret: str, code: str, *, now: dt.datetime) -> bool:
    """Whether ``code`` is one of ``secret``'s codes around ``now`` (nothing consumed)."""
    if not secret:
        return False
    try:
        match_step(secret, normalise_code(code), now=now)
    except (InvalidCode, MalformedInput):
        return False
    return True


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_data_uri(text: str) -> str:
    """An SVG QR code as a data: URI for an <img>, so no inline script or style is needed."""
    return str(segno.make(text, error="m").svg_data_uri(scale=5, border=4))


def group_secret(secret: str) -> str:
    """The secret in groups of four, easier to type by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


class TotpMethod(Method):
    kind = "totp"
    label = _("Authenticator app code")
    description = _("A 6-digit code from any authenticator app on your phone or computer.")
    prompt = _("Enter the code from your authenticator app")
    amr = ("otp",)
    answer = Answer.HELD_CODE
    # "I want to use a different authenticator app" on the App step.
    wizard = WizardStep("app", _("App"))

    def matches(self, registered: RegisteredMethod, code: str, *, now: dt.datetime) -> bool:
        return code_matches(registered.secret, code, now=now)

    def verify(self, registered: RegisteredMethod, response: str, *, now: dt.datetime) -> None:
        code = normalise_code(response)
        step = match_step(registered.secret, code, now=now)
        # Replay: a step at or before the last accepted one is refused, even within the window
        # and even when two requests race (the counter moves with a conditional UPDATE).
        service.advance_counter(registered, step, now=now)

    def start_enrolment(self, user: User, *, now: dt.datetime) -> PendingEnrolment:
        return service.new_pending(
            user, self.kind, now=now, ttl=settings.ENROLMENT_TTL, secret=generate_secret()
        )

    def enrolment_context(self, pending: PendingEnrolment) -> dict[str, Any]:
        uri = provisioning_uri(
            pending.secret, account=pending.user.email, issuer=settings.ORGANISATION_NAME
        )
        return {"qr": qr_data_uri(uri), "secret": group_secret(pending.secret), "uri": uri}

    def finish_enrolment(
        self, pending: PendingEnrolment, response: str, *, now: dt.datetime, name: str = ""
    ) -> RegisteredMethod:
        code = normalise_code(response)
        step = match_step(pending.secret, code, now=now)
        with transaction.atomic():
            service.consume_pending(pending, now=now)
            # The code that proved the enrolment cannot be replayed at the next sign-in.
            return service.save_new(
                pending.user,
                self.kind,
                now=now,
                secret=pending.secret,
                counter=step,
                name=name,
            )

    # --- the helpdesk verifies a caller (issue #19 item 9) ------------------------------------

    def caller_checks(self, user: User, *, now: dt.datetime) -> list[CallerCheck]:
        return self.codes_read_out(
            user,
            gettext(
                "Ask the caller to open their authenticator app and read out the 6-digit "
                "code it shows for this account now."
            ),
        )

    # --- the demo's people (vahva demo) --------------------------------------------------------

    def demo_hint(self, secret: str) -> str:
        return f"key {group_secret(secret)}   code: oathtool --totp -b {secret}"

    def save_demo(
        self, user: User, *, secret: str, now: dt.datetime, name: str = ""
    ) -> RegisteredMethod:
        return service.save_new(user, self.kind, now=now, secret=secret, name=name)
