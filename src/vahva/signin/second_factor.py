"""The second factor: the one place that verifies a method's answer.

:func:`check_second_factor` is where ``Method.verify`` is called, under the MFA throttle
(reserve first, refund on success) with the failure's audit row; every path that checks an
answer goes through it (a sign-in, "Confirm it's you", the validation API, a password reset).

:func:`verify_answer` is the one function that finishes a sign-in attempt with it, for the
browser (:mod:`.views`) and for protocols without one (:mod:`.nonbrowser`, RADIUS) alike: in
one transaction it locks the attempt (which must still wait for its factor), verifies the
answer (consuming what is single use and writing the audit row), and moves the attempt on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.http import HttpRequest

from vahva import clock
from vahva.accounts.models import User
from vahva.audit.log import record
from vahva.errors import (
    AlreadyCompleted,
    InvalidCode,
    ReplayedCode,
    VahvaError,
)
from vahva.methods import registry
from vahva.methods.base import AttemptRef, Method
from vahva.methods.models import RegisteredMethod

from . import throttle
from .attempts import mfa_keys, move, read_locked
from .models import SignInAttempt
from .states import Event, State


def failure_reason(exc: VahvaError) -> str:
    """What the sign-in log says of a refused answer: the attack a check stopped ("sign count
    did not increase: possibly a cloned authenticator"), else the error's name."""
    return str(getattr(exc, "reason", "") or type(exc).__name__)


def check_second_factor(
    request: HttpRequest,
    user: User,
    registered: RegisteredMethod,
    response: str,
    *,
    action: str,
    attempt: AttemptRef | None = None,
    keys: list[tuple[str, throttle.Rule]] | None = None,
    kind: str = "",
) -> Method:
    """Verify ``response`` for ``registered`` under the MFA throttle; audit failures.

    The try is reserved (counted as a failure) before the method sees it, and given back when
    it is right. Malformed input (letters, wrong length) is refused before it reaches the
    method and does not count as a guess. ``keys``: the throttle keys, the account's last
    (default: the client address's and the account's, :func:`mfa_keys`). ``kind``: the
    method that answers for ``registered`` when it is not its own ("Call me" for a number
    registered for texts).
    """
    now = clock.now()
    keys = keys if keys is not None else mfa_keys(request, user.pk)
    # Reserve first: N parallel wrong codes are counted one by one before any is checked, so
    # a burst gets no more checks than the back-off allows and stops at exactly the limit.
    reservation = throttle.reserve(keys, now=now)
    method = registry.get(kind or registered.kind)
    try:
        if attempt is not None:
            method.verify_for(registered, response, now=now, attempt=attempt)
        else:
            method.verify(registered, response, now=now)
    except (InvalidCode, ReplayedCode) as exc:
        account_key, rule = keys[-1]
        _audit_wrong(request, user, method, exc, action, rule, reservation.failures(account_key))
        raise
    except BaseException:
        # Not a guess (malformed input, an expired pass, a used-up set): the try is given back.
        reservation.refund()
        raise
    reservation.refund(clear=[keys[-1][0]])
    return method


def _audit_wrong(
    request: HttpRequest,
    user: User,
    method: Method,
    exc: VahvaError,
    action: str,
    rule: throttle.Rule,
    failures: int,
) -> None:
    """The audit row of a wrong or replayed answer, and the lock's when it reached the limit."""
    record(
        action,
        subject=user,
        request=request,
        outcome="failure",
        reason=failure_reason(exc),
        method=method.kind,
    )
    if rule.limit is not None and failures == rule.limit:
        # Someone who knows the password is guessing codes: say so once, loudly (only the
        # try that reached the limit sees exactly the limit).
        record(
            "signin.locked",
            subject=user,
            request=request,
            outcome="failure",
            reason=f"{rule.limit} consecutive wrong codes",
            method=method.kind,
        )


@dataclass(frozen=True)
class LockedKey:
    """The account's throttle key, locked by the caller's transaction until it ends, and its
    (failures, last failure) read under that lock (None: no row)."""

    key: str
    rule: throttle.Rule
    state: tuple[int, dt.datetime | None] | None


def check_under_lock(
    request: HttpRequest,
    user: User,
    registered: RegisteredMethod,
    response: str,
    *,
    action: str,
    held: LockedKey,
    now: dt.datetime,
) -> Method:
    """Verify ``response`` for ``registered`` while the caller's transaction holds the
    account's throttle key (``held``); raise before anything is checked or counted when the
    key allows no try (Locked, RateLimited), count a wrong or replayed answer and audit it
    (raised: the caller commits the count and the rows, then answers), or clear the key.

    The lock is the reserve-first rule here: no other request reads or counts on the key
    before this transaction commits, so N parallel guesses are checked one after the other,
    each seeing the failures before it (DESIGN §7)."""
    if held.state is not None:
        # Guessing past the lock, or faster than the back-off allows: refused before the check.
        throttle.refuse_if_throttled([(held.rule, *held.state)], now=now)
    method = registry.get(registered.kind)
    try:
        # Single use: a step is consumed with a conditional UPDATE (ReplayedCode).
        method.verify(registered, response, now=now)
    except (InvalidCode, ReplayedCode) as exc:
        _audit_wrong(request, user, method, exc, action, held.rule, _count_wrong(held, now=now))
        raise
    if held.state is not None:
        # A right code ends the account's back-off, as at a sign-in.
        throttle.clear([held.key])
    return method


def _count_wrong(held: LockedKey, *, now: dt.datetime) -> int:
    """Count the wrong guess on the (locked) key; the failures with it."""
    if held.state is None:
        throttle.Throttle.objects.create(key=held.key, failures=1, last_failure_at=now)
        return 1
    # Forgotten failures start the count afresh (as throttle.reserve counts).
    failures = throttle.effective_failures(held.rule, *held.state, now) + 1
    throttle.Throttle.objects.filter(key=held.key).update(failures=failures, last_failure_at=now)
    return failures


def leaves_waiting(method: Method) -> bool:
    """Whether beginning ``method`` can leave something waiting that a finished attempt
    withdraws (a request on the phone): the methods that override :meth:`Method.finished`."""
    return type(method).finished is not Method.finished


def prompting(attempt: SignInAttempt, method: Method) -> None:
    """Call before beginning ``method`` for ``attempt``: marks the attempt (once) when the
    method leaves something waiting, so that its finish withdraws it (:func:`finished`).
    Marked before the request is sent: no request can wait for an unmarked attempt."""
    if attempt.prompted or not leaves_waiting(method):
        return
    SignInAttempt.objects.filter(pk=attempt.pk, prompted=False).update(prompted=True)
    attempt.prompted = True


def finished(attempt: SignInAttempt, *, now: dt.datetime) -> None:
    """Tell every method that ``attempt`` is complete (the app withdraws its waiting push).
    An attempt no waiting method was begun for has nothing to withdraw: nothing is read."""
    if not attempt.prompted:
        return
    ref = AttemptRef(id=str(attempt.pk), ip=attempt.ip)
    for method in registry.all_methods():
        method.finished(attempt.user, attempt=ref, now=now)


def locked(attempt: SignInAttempt) -> SignInAttempt:
    """The attempt, locked until the transaction ends, while it still waits for its factor.

    Two requests finishing the same attempt (a double submit, two tabs, a NAS retransmitting
    with a new identifier, a replayed State) queue here: the first uses the factor and
    finishes the attempt, the next finds it finished. A loser can never fail the attempt
    between the winner's check and its move to done.
    """
    found = read_locked(attempt.pk)
    if found is None or found.state != State.MFA_REQUIRED:
        raise AlreadyCompleted()
    found.user = attempt.user
    return found


@dataclass(frozen=True, kw_only=True)
class Verified:
    """A right answer: the attempt as it is now, the method, and what the attempt proves.
    ``admitted`` False: the door refused it after all (the attempt failed)."""

    attempt: SignInAttempt
    method: Method
    amr: tuple[str, ...]
    admitted: bool = True


def verify_answer(
    request: HttpRequest,
    attempt: SignInAttempt,
    registered: RegisteredMethod,
    response: str,
    *,
    action: str = "signin.mfa",
    service: str = "",
    end_on_failure: bool = False,
    admit: Callable[[tuple[str, ...]], bool] | None = None,
    kind: str = "",
    then: Callable[[Verified], None] | None = None,
) -> Verified:
    """Finish ``attempt`` with ``response`` for ``registered``, or raise its VahvaError.

    One transaction: the attempt is locked (a finished one: AlreadyCompleted), the answer is
    reserved against the throttle and verified (single use consumed, audited), then the
    attempt moves to done. A failure commits its count and audit row before it is raised;
    ``end_on_failure`` ends the attempt with it (RADIUS: an Access-Reject takes no second
    guess). ``admit``: asked with the proof once the answer is right (the door, again, for a
    protocol); False fails the attempt instead. ``then``: called with a right answer's result
    in the same transaction, once the attempt is done (the browser's sign-in writes its rows
    in the commit that finishes the attempt: all of them, or none and the attempt still
    waits).
    """
    now = clock.now()
    ref = AttemptRef(id=str(attempt.pk), ip=attempt.ip, service=service)
    with transaction.atomic():
        current = locked(attempt)
        try:
            method = check_second_factor(
                request,
                current.user,
                registered,
                response,
                action=action,
                attempt=ref,
                kind=kind,
            )
        except VahvaError as exc:
            if end_on_failure:
                move(current, Event.FAIL)
            # Committed with the failure: the throttle's count and the audit row stay.
            failure = exc
        else:
            # The attempt's own amr: "pwd" after a password, the session's earlier proof when
            # the attempt re-authenticates a signed-in person (begin_confirmation).
            amr = tuple(sorted({*current.amr, *method.amr_for(response), "mfa"}))
            if admit is not None and not admit(amr):
                move(current, Event.FAIL)
                return Verified(attempt=current, method=method, amr=amr, admitted=False)
            move(current, Event.PASS_MFA, completed_at=now, method=method.kind, amr=list(amr))
            finished(current, now=now)
            verified = Verified(attempt=current, method=method, amr=amr)
            if then is not None:
                then(verified)
            return verified
    raise failure
