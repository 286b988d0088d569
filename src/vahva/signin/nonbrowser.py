"""Sign-in for protocols without a browser (RADIUS): password → the door → second factor.

The same engine pieces as the web's sign-in, without a session or cookies:

- the password is :func:`vahva.signin.engine.check_password` (its throttle, its audit rows),
  given a bare request that carries only the person's address;
- the door is :func:`vahva.signin.requirements.decide_step`, asked after the password and
  again after the second factor, and nothing is issued unless it answers ISSUE;
- the second factor is a :class:`~vahva.signin.models.SignInAttempt` driven like the web's:
  the method's ``begin`` (a push to the app with its number, a text sent), its ``status``
  while waiting, and :func:`vahva.signin.engine.check_second_factor` for the answer (the
  reserve-first throttle, single use, audit). A push's approval is used through the
  method's ``verify`` with the attempt's own id, never with anything the client sent.

The attempt is bound to a random token that only the caller holds (RADIUS puts it in the
``State`` attribute, with the attempt's id) and to a ``channel`` (the RADIUS client): a
``State`` copied to another client, or guessed, resumes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connections, transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from vahva import bus, clock
from vahva.audit.log import record
from vahva.conf import settings
from vahva.errors import AlreadyCompleted, ExpiredChallenge, RateLimited, VahvaError
from vahva.methods import challenges as asks
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.base import ANSWERED_ELSEWHERE, Answer, AttemptRef, Method
from vahva.methods.models import RegisteredMethod

from . import engine
from .attempts import move
from .models import SignInAttempt
from .requirements import Authentication, Outcome, Presence, Requirement, Step, decide_step
from .states import Event, State

#: The longest typed answer taken as a code for a method that waits (the app's offline code):
#: anything longer is refused, so typed text can never stand for the attempt's own id.
MAX_TYPED_CODE = 12
#: Seconds between looks at the database while waiting, for the approvals that no event bus
#: announces: the web node answering the phone is another process, which the in-process bus
#: does not reach. With Redis joining the processes the bus wakes the waiter, and the look is
#: only a safety net (the Redis bus itself wakes everyone after an outage).
POLL_INTERVAL = 1.0
POLL_INTERVAL_WITH_REDIS = 10.0


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
    user: Any = None
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


def usable_methods(user: Any) -> list[RegisteredMethod]:
    """The person's methods that work without a browser, the one to ask first first: no
    security key or passkey (its ceremony needs the browser)."""
    return [
        m
        for m in methods.registered_for(user)
        if registry.get(m.kind).answer is not Answer.CREDENTIAL
    ]


def check_password(*, email: str, password: str, source: str | None) -> Any:
    """The person for ``email`` if ``password`` is right (the engine's throttle and audit,
    counted on ``source``: the person's address, else the one of the server that asks)."""
    return engine.check_password(bare_request(source), email, password)


def start(
    user: Any,
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
    )
    method = registry.get(registered.kind)
    # Number matching stays wherever the number can be shown: only a client that cannot show
    # it (and opted in) weakens its pushes to approve-only (real-time phishing, push bombing).
    number_matching = prompts or not approve_only
    needs_number = method.answer is Answer.APP and not prompts and number_matching
    ref = AttemptRef(
        id=str(attempt.pk), ip=ip, service=requirement.service, number_matching=number_matching
    )
    send = not answered and not needs_number and (prompts or method.answer in ANSWERED_ELSEWHERE)
    try:
        # Outside any transaction: a text or a push goes out once the method has saved it.
        shown: asks.Challenge | None = (
            method.begin(registered, now=now, attempt=ref) if send else None
        )
        if isinstance(shown, asks.LimitReached):
            raise RateLimited(max(1.0, (shown.until - now).total_seconds()), shown.message)
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


def _method_of(attempt: SignInAttempt) -> RegisteredMethod:
    usable = usable_methods(attempt.user)
    if not usable:
        raise ExpiredChallenge()
    return usable[0]


def _finish(
    attempt: SignInAttempt,
    registered: RegisteredMethod,
    method: Method,
    response: str,
    *,
    requirement: Requirement,
    ip: str | None,
) -> Result:
    """The second factor passed: the door again, with what is proved now."""
    now = clock.now()
    amr = tuple(sorted({"pwd", *method.amr_for(response), "mfa"}))
    presence = Presence(
        user=attempt.user,
        authentication=Authentication(at=now, amr=amr, method=registered.kind),
        ip=ip,
    )
    step = decide_step(presence, requirement, now=now)
    if not step.issue:
        move(attempt, Event.FAIL)
        return Result(step=step, user=attempt.user, message=_refusal(step, requirement))
    move(attempt, Event.PASS_MFA, completed_at=now, method=registered.kind, amr=list(amr))
    engine.finished(attempt, now=now)
    return Result(step=step, user=attempt.user)


def _locked(attempt: SignInAttempt) -> SignInAttempt:
    """The attempt, locked until the transaction ends, while it still waits for its factor.

    Two requests finishing the same attempt (a NAS retransmitting with a new identifier, a
    replayed State) queue here: the first uses the factor and finishes the attempt, the next
    finds it finished. A loser can never fail the attempt between the winner's check and its
    move to done.
    """
    found = SignInAttempt.objects.select_for_update().filter(pk=attempt.pk).first()
    if found is None or found.state != State.MFA_REQUIRED:
        raise AlreadyCompleted()
    found.user = attempt.user
    return found


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
    registered = _method_of(attempt)
    method = registry.get(registered.kind)
    typed = response.strip()
    if method.answer in ANSWERED_ELSEWHERE and (not typed or len(typed) > MAX_TYPED_CODE):
        # A waiting method's approval is never taken from typed text (see MAX_TYPED_CODE).
        raise ExpiredChallenge()
    ref = AttemptRef(id=str(attempt.pk), ip=attempt.ip, service=requirement.service)
    with transaction.atomic():
        current = _locked(attempt)
        try:
            engine.check_second_factor(
                bare_request(source), current.user, registered, typed, action=action, attempt=ref
            )
        except VahvaError as exc:
            # Committed with the failure: the throttle's count and the audit row stay.
            move(current, Event.FAIL)
            failure = exc
        else:
            return _finish(current, registered, method, typed, requirement=requirement, ip=ip)
    raise failure


def state_of(attempt: SignInAttempt, requirement: Requirement) -> str:
    """Where a waiting method is: "pending", "approved", "denied" or "expired" (a request
    reported as not the person's is denied, for the client)."""
    registered = _method_of(attempt)
    ref = AttemptRef(id=str(attempt.pk))
    state = registry.get(registered.kind).status(registered, attempt=ref, now=clock.now())
    return "denied" if state == "reported" else state


def finish_wait(attempt: SignInAttempt, *, requirement: Requirement, ip: str | None) -> Result:
    """Use the attempt's approval (the app's, a call's), once, and ask the door again."""
    registered = _method_of(attempt)
    method = registry.get(registered.kind)
    with transaction.atomic():
        current = _locked(attempt)
        # The response is the attempt's own id, from the server's records: only an approval
        # given for this very attempt completes it.
        method.verify(registered, str(attempt.pk), now=clock.now())
        return _finish(current, registered, method, str(attempt.pk), requirement=requirement, ip=ip)


def fail(attempt: SignInAttempt) -> None:
    """The attempt ends without a sign-in (denied, no answer in time)."""
    with contextlib.suppress(AlreadyCompleted):
        move(attempt, Event.FAIL)


def _state_now(attempt: SignInAttempt, requirement: Requirement) -> str:
    try:
        return state_of(attempt, requirement)
    finally:
        # No connection is kept per waiting request: the pool thread serves the next one.
        connections.close_all()


async def wait_for_answer(
    attempt: SignInAttempt, *, requirement: Requirement, timeout: float
) -> str:
    """Wait (without a thread) until the attempt's method is answered or ``timeout`` seconds
    pass; returns its state then ("pending" after the timeout). Whichever ends first: the
    event loop's monotonic time, or :mod:`vahva.clock`, read at every look (at least every
    ``POLL_INTERVAL`` seconds, and whenever the bus speaks), so a test moves the clock
    instead of sleeping."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    until = clock.now() + dt.timedelta(seconds=timeout)
    # Subscribed before the first look: an answer published in between is queued, not lost.
    listener = bus.get().subscribe(str(attempt.pk))
    check = sync_to_async(_state_now, thread_sensitive=False)
    # Without Redis a look a second (a query each); with it, the bus says when to look.
    poll = POLL_INTERVAL if isinstance(bus.get(), bus.InProcessBus) else POLL_INTERVAL_WITH_REDIS
    try:
        while True:
            state = await check(attempt, requirement)
            left = min(deadline - loop.time(), (until - clock.now()).total_seconds())
            if state != "pending" or left <= 0:
                return state
            await listener.next(min(left, poll))
    finally:
        listener.close()


def method_waits(attempt: SignInAttempt) -> bool:
    """Whether the attempt's method is answered elsewhere (the app, a call)."""
    return registry.get(_method_of(attempt).kind).answer in ANSWERED_ELSEWHERE
