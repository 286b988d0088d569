"""Setting up one method (the wizard's steps and "Add method"): the service the views call.

The views bind forms and render; this module finds the method, keeps this browser's pending
enrolment, runs the enrolment page's actions ("Text me a code"), checks the proof, saves the
method and writes the audit rows. The method does the method's part (a QR, a text, the test
request) through its ``start_enrolment`` / ``enrolment_action`` / ``finish_enrolment`` hooks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from vahva.accounts.models import User
from vahva.audit.log import record
from vahva.errors import AlreadyCompleted, ExpiredChallenge, MalformedInput, VahvaError
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.base import Method
from vahva.methods.models import PendingEnrolment, RegisteredMethod
from vahva.signin import engine

#: This browser's pending enrolment: the proof is checked against it, never against an id
#: the form sends (a person could otherwise finish someone else's enrolment).
SESSION_PENDING = "vahva_pending_enrolment"


class UnknownMethod(MalformedInput):
    """A kind that is not installed, or not one a person sets up (a temporary access pass is
    issued by the helpdesk)."""

    status = 404
    default_message = _("That sign-in method does not exist here.")


@dataclass(frozen=True)
class Saved:
    """A method set up: the new one, and the one it replaced (a change of number)."""

    method: Method
    registered: RegisteredMethod
    replaced: RegisteredMethod | None


def method_for(kind: str) -> Method:
    """The installed method ``kind`` that a person may set up; UnknownMethod otherwise."""
    try:
        method = registry.get(kind)
    except KeyError:
        raise UnknownMethod() from None
    if not method.enrolable:
        raise UnknownMethod()
    return method


def pending_for(
    session: SessionBase,
    user: User,
    method: Method,
    *,
    replace: str | None,
    now: dt.datetime,
) -> PendingEnrolment:
    """This browser's pending enrolment of ``method`` while valid, else a new one.

    ``replace``: the id of the phone a change of number replaces, from the page's address;
    looked up among the person's own methods (MalformedInput if it is not theirs). A change
    of number and an added method never share one: an abandoned change must not replace the
    phone when a method is added later."""
    # "Change number": the phone it replaces is looked up by (user, id), never trusted.
    replacing = methods.replaceable_of(user, replace, by=method.kind) if replace else None
    pending_id = session.get(SESSION_PENDING)
    if pending_id:
        try:
            pending = methods.get_pending(user, pending_id)
            old = methods.replaced_by(pending)
            same = (old.pk if old else None) == (replacing.pk if replacing else None)
            if pending.kind == method.kind and pending.expires_at > now and same:
                return pending
        except VahvaError:
            pass
    pending = method.start_enrolment(user, now=now)
    if replacing is not None:
        pending = methods.mark_replacing(pending, replacing)
    session[SESSION_PENDING] = str(pending.pk)
    return pending


def current(session: SessionBase, user: User, kind: str) -> PendingEnrolment:
    """The pending enrolment this browser's form answers; ExpiredChallenge when it is gone
    or of another kind, AlreadyCompleted when it was used (a double-submitted form)."""
    pending = methods.get_pending(user, session.get(SESSION_PENDING))
    if pending.kind != kind:
        raise ExpiredChallenge()
    return pending


def act(
    pending: PendingEnrolment,
    *,
    action: str,
    data: Mapping[str, str],
    now: dt.datetime,
    ip: str | None,
) -> PendingEnrolment:
    """A step of the enrolment page before the proof ("Text me a code", "Resend code"); the
    returned enrolment's kind may have changed (the number is to be called instead)."""
    return registry.get(pending.kind).enrolment_action(pending, action, data, now=now, ip=ip)


def finish(
    request: HttpRequest,
    pending: PendingEnrolment,
    *,
    response: str,
    name: str,
    now: dt.datetime,
) -> Saved:
    """Check the proof and save the method, with its audit row (a refused proof's too).

    Raises what the method raises: AlreadyCompleted (saved by an earlier submit),
    ExpiredChallenge, or another VahvaError for a wrong proof, having saved nothing."""
    user = pending.user
    method = registry.get(pending.kind)
    replaced = methods.replaced_by(pending)
    try:
        registered = method.finish_enrolment(pending, response, now=now, name=name)
    except (ExpiredChallenge, AlreadyCompleted):
        raise
    except VahvaError as exc:
        record(
            "method.enrol",
            subject=user,
            actor=user,
            request=request,
            outcome="failure",
            reason=engine.failure_reason(exc),
            method=method.kind,
        )
        raise
    # The consumed enrolment's id stays in the session: a double-submitted form then meets
    # AlreadyCompleted (and carries on) instead of "expired".
    if replaced is not None:
        record(
            "method.changed",
            subject=user,
            actor=user,
            request=request,
            change="number",
            method=method.kind,
            method_id=registered.pk,
            old_method=replaced.kind,
            old_method_id=replaced.pk,
        )
    else:
        record(
            "method.added",
            subject=user,
            actor=user,
            request=request,
            method=method.kind,
            method_id=registered.pk,
        )
    return Saved(method=method, registered=registered, replaced=replaced)
