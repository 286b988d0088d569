"""Temporary access passes, as the helpdesk issues them: through the hooks of the method that
issues passes (:meth:`~vahva.methods.base.Method.issues_passes`), so this room names none.

Every change checks the agent first (:func:`.access.check_may_act`); the method writes the
audit rows ("tap.issued", "tap.revoked") in the transaction that makes the change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext_lazy as _

from vahva.accounts.models import User
from vahva.errors import MalformedInput
from vahva.methods import registry
from vahva.methods.base import Method
from vahva.methods.models import RegisteredMethod

from .access import check_may_act

NOT_HERE = _("This deployment does not issue temporary access passes.")


def method() -> Method | None:
    """The installed method the helpdesk issues as a pass, if any."""
    return next((m for m in registry.all_methods() if m.issues_passes()), None)


def _method() -> Method:
    found = method()
    if found is None:
        raise MalformedInput(NOT_HERE)
    return found


def issue(
    user: User,
    *,
    ticket: str,
    lifetime: int,
    one_time: bool,
    now: dt.datetime,
    actor: Any,
    request: Any,
) -> tuple[RegisteredMethod, str]:
    """A pass for ``user`` (replacing any earlier one); the clear text is returned once, for
    the page to show."""
    check_may_act(actor, user)
    return _method().issue_pass(
        user,
        now=now,
        ticket=ticket,
        actor=actor,
        lifetime=lifetime,
        one_time=one_time,
        request=request,
    )


def active(user: User, *, now: dt.datetime) -> RegisteredMethod | None:
    """The person's working pass, if any (the page that shows a new pass once reads it)."""
    found = method()
    return found.active_pass(user, now=now) if found is not None else None


def label(registered: RegisteredMethod) -> str:
    return registry.get(registered.kind).describe(registered)


def revoke(user: User, *, ticket: str, actor: Any, request: Any) -> bool:
    check_may_act(actor, user)
    return _method().revoke_pass(user, ticket=ticket, actor=actor, request=request)
