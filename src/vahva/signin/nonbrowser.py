"""Sign-in for protocols without a browser (RADIUS): password → the door → second factor.

The same engine pieces as the web's sign-in, without a session or cookies:

- the password is :func:`vahva.signin.engine.check_password` (its throttle, its audit rows),
  given a bare request that carries only the person's address;
- the door is :func:`vahva.signin.requirements.decide_step`, asked after the password and
  again after the second factor, and nothing is issued unless it answers ISSUE;
- the second factor is a :class:`~vahva.signin.models.SignInAttempt` driven like the web's:
  the method's ``begin`` (its typed challenge: a number to match, a call, a code to type),
  its ``status`` while waiting (:mod:`.nonbrowser_wait`), and the engine's one verification,
  :func:`vahva.signin.second_factor.verify_answer`, for the answer (the locked attempt, the
  reserve-first throttle, single use, audit), typed codes and approvals alike. A push's
  approval is answered with the attempt's own id, never with anything the client sent.

The attempt is bound to a random token that only the caller holds (RADIUS puts it in the
``State`` attribute, with the attempt's id) and to a ``channel`` (the RADIUS client): a
``State`` copied to another client, or guessed, resumes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.http import HttpRequest
from django.utils.translation import gettext as _

from vahva import clock
from vahva.audit.log import record
from vahva.conf import settings
from vahva.errors import AlreadyCompleted, ExpiredChallenge, RateLimited, VahvaError
from vahva.methods import challenges as asks
from vahva.methods import registry
from vahva.methods.base import ANSWERED_ELSEWHERE, Answer, AttemptRef
from vahva.methods.models import RegisteredMethod

from . import engine
from .attempts import move
from .models import SignInAttempt
from .nonbrowser_wait import (
    POLL_INTERVAL as POLL_INTERVAL,
)
from .nonbrowser_wait import (
    POLL_INTERVAL_WITH_REDIS as POLL_INTERVAL_WITH_REDIS,
)
from .nonbrowser_wait import (
    method_of,
    usable_methods,
)
from .nonbrowser_wait import method_waits as method_waits
from .nonbrowser_wait import state_of as state_of
from .nonbrowser_wait import wait_for_answer as wait_for_answer
from .requirements import Authentication, Outcome, Presence, Requirement, Step, decide_step
from .second_factor import leaves_waiting, verify_answer
from .states import Event, State

if TYPE_CHECKING:
    from vahva.accounts.models import User

#: The longest typed answer taken as a code for a method that waits (the app's offline code):
#: anything longer is refused, so typed text can never stand for the attempt's own id.
MAX_TYPED_CODE = 12


class LimitReached(RateLimited):
    """Nothing was sent: a limit on texts or calls is full (its name is the log's reason)."""


def bare_request(ip: str | None) -> HttpRequest:
    """A request with nothing but the client address, for the engine's throttle and audit."""
    request = HttpRequest()
    request.META["REMOTE_ADDR"] = ip or ""
    return request


@dataclass(frozen=True, kw_only=True)
class Challenge:
    """What the person must do next: type a code, or answer the app (or a call)."""

    attempt: uuid.UUID
    #: The secret that resumes the attempt (only its hash is stored).
    token: str
    #: The method is answered elsewhere (a push, a call): the next request waits for it.
    waits: bool
    #: Number matching: the number the person types in the app.
    number: int | None
    #: What the client shows the person.
    message: str
    #: The method's kind, for the log.
    method: str
    #: Number matching, and the client cannot show the number: nothing was sent (a push
    #: nobody can complete would only count against the person as ignored).
    needs_number: bool = False
    #: Requests to the app are paused after suspicious attempts: only its code works.
    paused: bool = False


@dataclass(frozen=True, kw_only=True)
class Result:
    """The door's answer for this exchange: issue, ask for a second factor, or refuse."""

    step: Step
    user: User | None = None
    challenge: Challenge | None = None
    #: For a refusal: what the person is told.
    message: str = ""

    @property
    def issue(self) -> bool:
        return self.step.issue


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _refusal(step: Step, requirement: Requirement) -> str:
    service = requirement.service or _("This service")
    if step.outcome == Outcome.REGISTER:
        return _("Set up a sign-in method at %(url)s/setup first, then try again.") % {
            "url": str(settings.PUBLIC_URL).rstrip("/")
        }
    if step.outcome == Outcome.NEED_METHOD:
        return _(
            "%(service)s asks for a second sign-in step, and you have no sign-in method yet."
        ) % {"service": service}
    if step.outcome == Outcome.NEED_PASSKEY:
        return _("%(service)s accepts only a security key or passkey.") % {"service": service}
    return _("%(service)s cannot sign you in this way.") % {"service": service}


def check_password(*, email: str, password: str, source: str | None) -> User:
    """The person for ``email`` if ``password`` is right (the engine's throttle and audit,
    counted on ``source``: the person's address, else the one of the server that asks)."""
    return engine.check_password(bare_request(source), email, password)


def start(
    user: User,
    *,
    requirement: Requirement,
    ip: str | None,
    source: str | None,
    channel: str,
    action: str,
    answered: bool = False,
    prompts: bool = True,
    approve_only: bool = False,
) -> Result:
    """After a right password: ask the door; for a second factor, begin the person's method.

    ``ip``: the person's address, for the policy (trusted networks) and the phone's request,
    None when unknown; ``source``: where throttles and the log count the request.
    ``answered``: the client already sent the answer (a code appended to the password), so
    nothing is sent; ``prompts``: the client can show a prompt (else only a method answered
    elsewhere, the app or a call, is begun: a text nobody can type in would be wasted).
    ``approve_only``: a client without prompts asks the app for Approve / Deny without a
    number (opted in per client); without it, such a client gets no push that asks for a
    number it cannot show. A client that prompts keeps number matching whatever this says.
    """
    now = clock.now()
    presence = Presence(user=user, authentication=Authentication(at=now, amr=("pwd",)), ip=ip)
    step = decide_step(presence, requirement, now=now)
    if step.issue or step.outcome != Outcome.SIGN_IN:
        return Result(
            step=step, user=user, message="" if step.issue else _refusal(step, requirement)
        )
    usable = usable_methods(user)
    if requirement.demands_phishing_resistant:
        # Nothing that can be typed or approved over this protocol is phishing-resistant.
        refused = Step(Outcome.NEED_PASSKEY, reason=step.reason)
        return Result(step=refused, user=user, message=_refusal(refused, requirement))
    if not usable:
        return Result(
            step=Step(Outcome.NEED_METHOD, reason=step.reason),
            user=user,
            message=_(
                "A security key or passkey cannot be used here. Add the vahva app or an "
                "authenticator app at %(url)s/security-info, then try again."
            )
            % {"url": str(settings.PUBLIC_URL).rstrip("/")},
        )
    registered = usable[0]
    token = secrets.token_urlsafe(24)
    method = registry.get(registered.kind)
    # Number matching stays wherever the number can be shown: only a client that cannot show
    # it (and opted in) weakens its pushes to approve-only (real-time phishing, push bombing).
    number_matching = prompts or not approve_only
    needs_number = method.answer is Answer.APP and not prompts and number_matching
    send = not answered and not needs_number and (prompts or method.answer in ANSWERED_ELSEWHERE)
    attempt = SignInAttempt.objects.create(
        user=user,
        state=State.MFA_REQUIRED,
        binding=_hash(token),
        created_at=now,
        expires_at=now + dt.timedelta(seconds=settings.SIGNIN_ATTEMPT_TTL),
        ip=ip,
        next_url=channel,
        reason=step.reason,
        amr=["pwd"],
        # Saved before the request is sent: its finish withdraws what is left waiting.
        prompted=send and leaves_waiting(method),
    )
    ref = AttemptRef(
        id=str(attempt.pk), ip=ip, service=requirement.service, number_matching=number_matching
    )
    try:
        # Outside any transaction: a text or a push goes out once the method has saved it.
        shown: asks.Challenge | None = (
            method.begin(registered, now=now, attempt=ref) if send else None
        )
        if isinstance(shown, asks.LimitReached):
            raise LimitReached(max(1.0, (shown.until - now).total_seconds()), shown.message)
    except VahvaError as exc:
        move(attempt, Event.FAIL)
        record(
            action,
            subject=user,
            request=bare_request(source),
            outcome="failure",
            reason=engine.failure_reason(exc),
            method=registered.kind,
            service=requirement.service,
        )
        return Result(
            step=Step(Outcome.REFUSE, reason=step.reason), user=user, message=str(exc.message)
        )
    waits, number, paused = False, None, False
    message = str(method.prompt)
    match shown:
        case asks.MatchNumber(number=shown_number):
            waits, number = True, shown_number
            message = _("Open the vahva app and type the number %(number)s") % {"number": number}
        case asks.Approve():
            waits = True
        case asks.Paused():
            # Nothing to wait for: no request went to the phone.
            paused = True
            message = _(
                "Requests to your vahva app are paused after suspicious sign-in attempts. "
                "Enter the code shown in the app."
            )
        case asks.TypeCode() | asks.Ceremony() | asks.LimitReached() | None:
            pass
    challenge = Challenge(
        attempt=attempt.pk,
        token=token,
        waits=waits,
        number=number,
        message=message,
        method=registered.kind,
        needs_number=needs_number,
        paused=paused,
    )
    return Result(step=step, user=user, challenge=challenge)


def resume(*, attempt_id: uuid.UUID, token: str, channel: str) -> SignInAttempt:
    """The attempt a client comes back to; ExpiredChallenge unless token and channel match."""
    attempt = SignInAttempt.objects.filter(pk=attempt_id).select_related("user").first()
    expired = ExpiredChallenge(_("Your sign-in has expired. Start again."))
    # A guessed or copied State (another client's) resumes nothing.
    if attempt is None or not hmac.compare_digest(attempt.binding, _hash(token)):
        raise expired
    if not hmac.compare_digest(attempt.next_url, channel):
        raise expired
    if attempt.state == State.DONE:
        raise AlreadyCompleted()
    if attempt.state != State.MFA_REQUIRED:
        raise expired
    if attempt.expires_at <= clock.now():
        move(attempt, Event.EXPIRE)
        raise expired
    return attempt


def _door(
    attempt: SignInAttempt, registered: RegisteredMethod, requirement: Requirement, ip: str | None
) -> tuple[Callable[[tuple[str, ...]], bool], list[Step]]:
    """The door again once the second factor is right, with what is proved then: the check
    for :func:`engine.verify_answer`, and the list its Step is put in."""
    decided: list[Step] = []

    def admit(amr: tuple[str, ...]) -> bool:
        now = clock.now()
        presence = Presence(
            user=attempt.user,
            authentication=Authentication(at=now, amr=amr, method=registered.kind),
            ip=ip,
        )
        decided.append(decide_step(presence, requirement, now=now))
        return decided[-1].issue

    return admit, decided


def _verified(
    attempt: SignInAttempt,
    registered: RegisteredMethod,
    response: str,
    *,
    requirement: Requirement,
    ip: str | None,
    source: str | None,
    action: str,
    end_on_failure: bool,
) -> Result:
    """The engine's one verification (:func:`engine.verify_answer`), then the door's answer."""
    admit, decided = _door(attempt, registered, requirement, ip)
    verified = verify_answer(
        bare_request(source),
        attempt,
        registered,
        response,
        action=action,
        service=requirement.service,
        end_on_failure=end_on_failure,
        admit=admit,
    )
    step = decided[-1]
    if not verified.admitted:
        return Result(step=step, user=attempt.user, message=_refusal(step, requirement))
    return Result(step=step, user=attempt.user)


def answer_code(
    attempt: SignInAttempt,
    response: str,
    *,
    requirement: Requirement,
    ip: str | None,
    source: str | None,
    action: str,
) -> Result:
    """Check a typed code for the attempt's method (throttled, single use, audited). A wrong
    answer ends the attempt: the client's Access-Reject ends the exchange (RFC 2865 §4.3), so
    its State takes no second guess."""
    registered = method_of(attempt)
    method = registry.get(registered.kind)
    typed = response.strip()
    if method.answer in ANSWERED_ELSEWHERE and (not typed or len(typed) > MAX_TYPED_CODE):
        # A waiting method's approval is never taken from typed text (see MAX_TYPED_CODE).
        raise ExpiredChallenge()
    return _verified(
        attempt,
        registered,
        typed,
        requirement=requirement,
        ip=ip,
        source=source,
        action=action,
        end_on_failure=True,
    )


def finish_wait(
    attempt: SignInAttempt,
    *,
    requirement: Requirement,
    ip: str | None,
    source: str | None = None,
    action: str = "radius.mfa",
) -> Result:
    """Use the attempt's approval (the app's, a call's), once, and ask the door again."""
    # The response is the attempt's own id, from the server's records: only an approval given
    # for this very attempt completes it.
    return _verified(
        attempt,
        method_of(attempt),
        str(attempt.pk),
        requirement=requirement,
        ip=ip,
        source=source if source is not None else ip,
        action=action,
        end_on_failure=False,
    )


def fail(attempt: SignInAttempt) -> None:
    """The attempt ends without a sign-in (denied, no answer in time)."""
    with contextlib.suppress(AlreadyCompleted):
        move(attempt, Event.FAIL)
