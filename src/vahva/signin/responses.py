"""What a protocol shows when the door says the request cannot continue."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from vahva.audit.log import record

from .requirements import Outcome, Requirement, Step

#: The door's outcomes that end at a page of vahva's own (no assertion, no redirect).
CANNOT_CONTINUE = frozenset({Outcome.NEED_METHOD, Outcome.NEED_PASSKEY, Outcome.REFUSE})


def cannot_continue(
    request: HttpRequest, step: Step, requirement: Requirement, *, action: str, **audit: Any
) -> HttpResponse:
    """The 403 page for NEED_METHOD, NEED_PASSKEY and REFUSE, with an audit row (``audit``:
    the protocol's own fields, e.g. a SAML service's entity id)."""
    user = request.user if request.user.is_authenticated else None
    record(
        action,
        subject=user,
        actor=user,
        request=request,
        outcome="failure",
        reason=f"{step.outcome}: {step.reason}" if step.reason else str(step.outcome),
        service=requirement.service,
        **audit,
    )
    return render(
        request,
        "signin/cannot_continue.html",
        {"message": step.message, "setup_url": step.url, "service": requirement.service},
        status=403,
    )
