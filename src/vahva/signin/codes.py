"""A typed one-time code, checked for a person outside a browser sign-in: the validation API
for gateways and scripts (and any protocol whose client types a code after the password).

The person's methods whose answer is an RFC 6238 code (an authenticator app, the vahva app's
offline code) are tried through the engine's second-factor check: the same reserve-first
throttle, single use (a step accepted here is refused at a sign-in, and the other way round)
and audit trail. The protocol room names no method: it asks here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.utils.translation import gettext as _

from vahva import clock
from vahva.accounts.models import normalise_email
from vahva.audit.log import record
from vahva.errors import InvalidCode, MalformedInput
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.models import RegisteredMethod

from . import attempts, engine

if TYPE_CHECKING:
    from vahva.accounts.models import User

_SPACES = re.compile(r"[\s-]+")


@dataclass(frozen=True)
class Accepted:
    user: User
    method: str


def _code_methods(user: User) -> list[RegisteredMethod]:
    """The methods whose answer is a code the person reads from something they hold (an
    authenticator app, the vahva app's offline code, a hardware token): each method says so.
    A texted code needs a text sent first; a pass or a security key is not something a VPN
    client can type."""
    return [m for m in methods.registered_for(user) if registry.typed_code(m.kind) is not None]


def _matches(registered: RegisteredMethod, code: str, *, now: Any) -> bool:
    method = registry.typed_code(registered.kind)
    return method is not None and method.matches(registered, code, now=now)


def _typed(code: str) -> str:
    """Spaces and dashes out; 6 to 8 digits (apps show 6, some tokens 8), else not a guess."""
    typed = _SPACES.sub("", code or "")
    if not typed:
        raise MalformedInput(_("Enter the code."))
    if not typed.isascii() or not typed.isdigit() or not 6 <= len(typed) <= 8:
        raise MalformedInput(_("The code is 6 to 8 digits, for example 123456."))
    return typed


def check_code(
    request: HttpRequest, *, email: str, code: str, action: str, **audit: Any
) -> Accepted:
    """Accept ``code`` for the person with ``email`` once, or raise a VahvaError.

    MalformedInput for a code that is not 6 to 8 digits (not a guess: not counted); InvalidCode
    for a wrong code, an unknown person or one without a code method (the same answer, so the
    caller does not learn who has an account); ReplayedCode for a code already accepted, here
    or at a sign-in; RateLimited / Locked from the MFA throttle. ``audit``: extra fields of
    the audit rows (the API client's name).
    """
    now = clock.now()
    typed = _typed(code)
    address = normalise_email(email)
    user = get_user_model().objects.filter(email=address, is_active=True).first()
    candidates = _code_methods(user) if user is not None else []
    if user is None or not candidates:
        record(
            action,
            subject=user,
            request=request,
            outcome="failure",
            reason="unknown e-mail address" if user is None else "no authenticator app",
            email=address[:254],
            **audit,
        )
        raise InvalidCode()
    # A person may have an authenticator app and the vahva app: the code tells which one it
    # came from (pure checks, nothing consumed). None matching: the default one is checked, so
    # that the wrong code counts once against the throttle and is audited once.
    chosen = next((m for m in candidates if _matches(m, typed, now=now)), candidates[0])
    engine.check_second_factor(
        request,
        user,
        chosen,
        typed,
        action=action,
        # The account's MFA key only, the same one the browser's sign-in counts on (guesses
        # here and there add up). Not the address's: that is the gateway's, shared by all the
        # people behind it, whom a few typos would otherwise throttle together.
        keys=attempts.mfa_keys(request, user.pk)[-1:],
    )
    record(action, subject=user, actor=user, request=request, method=chosen.kind, **audit)
    return Accepted(user, chosen.kind)
