"""What happens to a token: activation, checking a code, helpdesk assignment and resync.

Every code is accepted once: the counter (HOTP) or the last step (TOTP) moves with a
conditional UPDATE, so two requests racing with the same code cannot both pass.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from vahva.errors import InvalidCode, MalformedInput, RateLimited, ReplayedCode
from vahva.methods import service, totp
from vahva.methods.models import PendingEnrolment, RegisteredMethod

from . import oath
from .models import KIND, Algorithm, HardwareToken, State

if TYPE_CHECKING:
    from vahva.accounts.models import User

#: Wrong activation codes a token takes before only the helpdesk can clear it. A stock token
#: is activated by whoever holds it (the serial is printed on it, not secret), so without a
#: cap an account could guess at the codes of every token in stock; each one takes
#: MAX_ACTIVATION_TRIES * 11 / 10^6 chances at most.
MAX_ACTIVATION_TRIES = 10


class UnknownToken(MalformedInput):
    default_message = _(  # type: ignore[assignment]
        "No token with that serial number is waiting to be activated. Check the number on "
        "the back of the token, or ask the helpdesk."
    )


def normalise_serial(raw: str) -> str:
    serial = (raw or "").strip()
    if not serial:
        raise MalformedInput(_("Enter the serial number printed on the token."))
    if len(serial) > 64 or not serial.isprintable():
        raise UnknownToken()
    return serial


def normalise_code(raw: str, token: HardwareToken) -> str:
    """The typed code without spaces or dashes, as many digits as the token shows."""
    return totp.normalise_code(raw, digits=token.digits)


def _step(token: HardwareToken, now: dt.datetime) -> int:
    return int(now.timestamp()) // token.period + token.drift


def match(token: HardwareToken, typed: str, *, now: dt.datetime) -> int:
    """The counter / step ``typed`` belongs to (nothing consumed); InvalidCode or
    ReplayedCode."""
    secret = oath.secret_bytes(token.secret)
    if token.algorithm == Algorithm.HOTP:
        try:
            return oath.match(
                secret,
                typed,
                around=token.counter,
                behind=0,
                ahead=oath.LOOK_AHEAD,
                digits=token.digits,
                digest=token.digest,
            )
        except InvalidCode:
            # A code just behind the counter was used already: say so (the person types the
            # same code twice), it is refused either way.
            behind = range(max(0, token.counter - oath.LOOK_AHEAD), token.counter)
            if any(
                oath.code(secret, n, digits=token.digits, digest=token.digest) == typed
                for n in behind
            ):
                raise ReplayedCode() from None
            raise
    found = oath.match(
        secret,
        typed,
        around=_step(token, now),
        behind=oath.WINDOW,
        ahead=oath.WINDOW,
        digits=token.digits,
        digest=token.digest,
    )
    if found <= token.counter:
        raise ReplayedCode()
    return found


def consume(token: HardwareToken, typed: str, *, now: dt.datetime) -> None:
    """Accept ``typed`` once, or raise."""
    found = match(token, typed, now=now)
    if token.algorithm == Algorithm.HOTP:
        # Replay: the next expected counter moves past the code; a racing request with the
        # same code finds the counter moved and is refused.
        moved = HardwareToken.objects.filter(pk=token.pk, counter__lte=found).update(
            counter=found + 1
        )
        token.counter = found + 1
    else:
        moved = HardwareToken.objects.filter(pk=token.pk, counter__lt=found).update(counter=found)
        token.counter = found
    if not moved:
        raise ReplayedCode()


def token_of(registered: RegisteredMethod) -> HardwareToken:
    token = HardwareToken.objects.filter(registered=registered, state=State.ACTIVE).first()
    if token is None:
        # The token was retired by the helpdesk: its codes are never accepted again.
        raise InvalidCode()
    return token


def _in_stock(serial: str) -> HardwareToken | None:
    return HardwareToken.objects.filter(
        serial=normalise_serial(serial), state=State.AVAILABLE
    ).first()


def activatable(user: User, serial: str) -> HardwareToken:
    """A token in stock that ``user`` may activate: not reserved, or reserved for them."""
    token = _in_stock(serial)
    if token is None or token.reserved_for_id not in (None, getattr(user, "pk", None)):
        # A token reserved for someone else looks the same as an unknown serial.
        raise UnknownToken()
    return token


def activate(
    user: User,
    serial: str,
    code: str,
    *,
    now: dt.datetime,
    name: str = "",
    pending: PendingEnrolment | None = None,
) -> RegisteredMethod:
    """Make the token ``user``'s sign-in method, proved by a code it shows now; ``pending``,
    the enrolment it finishes, is consumed in the same transaction."""
    token = activatable(user, serial)
    typed = normalise_code(code, token)
    # Reserve first: the try is counted before the code is checked (a parallel burst of
    # guesses is counted one by one), and a right code gives it back.
    reserved = HardwareToken.objects.filter(
        pk=token.pk, activation_tries__lt=MAX_ACTIVATION_TRIES
    ).update(activation_tries=F("activation_tries") + 1)
    if not reserved:
        raise RateLimited(
            3600,
            _("Too many wrong codes for this token. Ask the helpdesk to check it."),
        )
    with transaction.atomic():
        if pending is not None:
            # A double-submitted form: the second finds the enrolment used.
            service.consume_pending(pending, now=now)
        consume(token, typed, now=now)
        registered = service.save_new(
            user,
            KIND,
            now=now,
            name=name or token.serial,
            data={"serial": token.serial},
        )
        # Two people activating the same token at once: only one finds it still in stock.
        taken = HardwareToken.objects.filter(pk=token.pk, state=State.AVAILABLE).update(
            state=State.ACTIVE, registered=registered, reserved_for=None, activation_tries=0
        )
        if not taken:
            raise UnknownToken()
    return registered


# --- the helpdesk -----------------------------------------------------------------------------


def tokens_of(user: User) -> list[HardwareToken]:
    """The person's tokens: in use, or reserved for them (a retired one too: its serial is
    what a lost-token report needs)."""
    pk = user.pk
    return list(
        HardwareToken.objects.filter(registered__user_id=pk)
        | HardwareToken.objects.filter(reserved_for_id=pk)
    )


def reserve(user: User, serial: str) -> HardwareToken:
    """The helpdesk hands a token in stock to ``user``: only they can activate it."""
    token = _in_stock(serial)
    if token is None:
        raise UnknownToken(_("No token with that serial number is in stock."))
    HardwareToken.objects.filter(pk=token.pk).update(reserved_for=user, activation_tries=0)
    return token


def _held_by(user: User, serial: str) -> HardwareToken:
    serial = normalise_serial(serial)
    found = next((t for t in tokens_of(user) if t.serial == serial), None)
    if found is None:
        # Another person's token, or none: the helpdesk acts on this person's tokens only.
        raise UnknownToken(_("This person has no token with that serial number."))
    return found


def release(user: User, serial: str, *, lost: bool) -> HardwareToken:
    """Take the token from ``user``: its method goes; a lost token is retired for good (a
    finder cannot activate it), a returned one goes back to stock with a clean slate."""
    token = _held_by(user, serial)
    with transaction.atomic():
        registered = token.registered
        HardwareToken.objects.filter(pk=token.pk).update(
            state=State.RETIRED if lost else State.AVAILABLE,
            registered=None,
            reserved_for=None,
            activation_tries=0,
        )
        if registered is not None:
            service.remove(user, registered.pk)
    token.refresh_from_db()
    return token


def resynchronise(
    user: User, serial: str, first: str, second: str, *, now: dt.datetime
) -> HardwareToken:
    """Two consecutive codes from a token that drifted (HOTP: pressed many times away from
    us; TOTP: its clock runs off) set where it is; the second code is then used up."""
    token = _held_by(user, serial)
    if token.state != State.ACTIVE:
        raise UnknownToken(_("Only a token in use can be resynchronised."))
    one, two = normalise_code(first, token), normalise_code(second, token)
    secret = oath.secret_bytes(token.secret)
    if token.algorithm == Algorithm.HOTP:
        found = oath.resync(
            secret,
            one,
            two,
            around=token.counter,
            behind=0,
            ahead=oath.RESYNC_HOTP,
            digits=token.digits,
            digest=token.digest,
        )
        # Replay: the counter only moves forward, past the second code.
        moved = HardwareToken.objects.filter(pk=token.pk, counter__lte=found).update(
            counter=found + 1
        )
    else:
        now_step = int(now.timestamp()) // token.period
        found = oath.resync(
            secret,
            one,
            two,
            around=now_step,
            behind=oath.RESYNC_STEPS,
            ahead=oath.RESYNC_STEPS,
            digits=token.digits,
            digest=token.digest,
        )
        moved = HardwareToken.objects.filter(pk=token.pk, counter__lt=found).update(
            counter=found, drift=found - now_step
        )
    if not moved:
        raise ReplayedCode()
    token.refresh_from_db()
    return token
