"""Waiting for a method answered elsewhere (the app, a call) without a browser: which method
the attempt asks for, where it is, and a wait that holds no thread or connection.

Split from :mod:`.nonbrowser`, which re-exports these names for the protocols.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from django.db import connections

from vahva import bus, clock
from vahva.errors import ExpiredChallenge
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.base import ANSWERED_ELSEWHERE, Answer, AttemptRef
from vahva.methods.models import RegisteredMethod

from .models import SignInAttempt
from .requirements import Requirement

if TYPE_CHECKING:
    from vahva.accounts.models import User

#: Seconds between looks at the database while waiting, for the approvals that no event bus
#: announces: the web node answering the phone is another process, which the in-process bus
#: does not reach. With Redis joining the processes the bus wakes the waiter, and the look is
#: only a safety net (the Redis bus itself wakes everyone after an outage).
POLL_INTERVAL = 1.0
POLL_INTERVAL_WITH_REDIS = 10.0


def usable_methods(user: User) -> list[RegisteredMethod]:
    """The person's methods that work without a browser, the one to ask first first: no
    security key or passkey (its ceremony needs the browser)."""
    return [
        m
        for m in methods.registered_for(user)
        if registry.get(m.kind).answer is not Answer.CREDENTIAL
    ]


def method_of(attempt: SignInAttempt) -> RegisteredMethod:
    usable = usable_methods(attempt.user)
    if not usable:
        raise ExpiredChallenge()
    return usable[0]


def state_of(attempt: SignInAttempt, requirement: Requirement) -> str:
    """Where a waiting method is: "pending", "approved", "denied" or "expired" (a request
    reported as not the person's is denied, for the client)."""
    registered = method_of(attempt)
    ref = AttemptRef(id=str(attempt.pk))
    state = registry.get(registered.kind).status(registered, attempt=ref, now=clock.now())
    return "denied" if state == "reported" else state


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
    return registry.get(method_of(attempt).kind).answer in ANSWERED_ELSEWHERE
