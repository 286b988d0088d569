"""The ways a sign-in attempt can be finished now ("Sign in another way"), and which method
answers for a registered one: a number registered for texts can also be called, and one
registered for calls can also get a text (``Method.answered_also_by``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest
from django.utils.functional import Promise

from vahva import clock
from vahva.errors import MalformedInput
from vahva.methods import registry
from vahva.methods.base import Method
from vahva.methods.models import RegisteredMethod

from . import engine
from .models import SignInAttempt


@dataclass(frozen=True)
class Choice:
    """One way to sign in: a registered method, answered by ``method`` (its own, or another
    that can answer for it)."""

    registered: RegisteredMethod
    method: Method

    @property
    def id(self) -> int:
        return self.registered.pk

    @property
    def by(self) -> str:
        """The answering method's kind when it is not the registered one's ("" otherwise)."""
        return "" if self.method.kind == self.registered.kind else self.method.kind

    @property
    def label(self) -> str:
        return self.method.describe(self.registered)

    @property
    def prompt(self) -> str | Promise:
        return self.method.prompt


def answering(registered: RegisteredMethod, by: str) -> Method:
    """The method that answers for ``registered``: its own, or ``by`` when that one can
    answer for it; MalformedInput for any other ``by`` (a hand-made address)."""
    own = registry.get(registered.kind)
    if not by or by == registered.kind:
        return own
    if by not in own.answered_also_by(registered):
        raise MalformedInput()
    try:
        return registry.get(by)
    except KeyError:
        raise MalformedInput() from None


def _installed(kind: str) -> Method | None:
    try:
        return registry.get(kind)
    except KeyError:
        return None


def ways(
    request: HttpRequest,
    attempt: SignInAttempt,
    *,
    leave_out: Callable[[Choice], bool] | None = None,
) -> list[Choice]:
    """The ways to finish ``attempt`` now, the one to ask first first: each method the service
    accepts and the ones that can also answer for it, not a method whose requests are held
    (the app after "Deny and report", calls after "0#"), and not what ``leave_out`` says."""
    now = clock.now()
    found: list[Choice] = []
    seen: set[tuple[str, str]] = set()
    for registered in engine.methods_for(request, attempt):
        own = registry.get(registered.kind)
        also = (_installed(kind) for kind in own.answered_also_by(registered))
        for method in (own, *(m for m in also if m is not None)):
            choice = Choice(registered, method)
            # One number registered twice (for texts and for calls): each way once.
            key = (method.kind, choice.label)
            if key in seen or method.held_until(attempt.user, now=now) is not None:
                continue
            if leave_out is not None and leave_out(choice):
                continue
            seen.add(key)
            found.append(choice)
    return found
