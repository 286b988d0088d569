"""What a sign-in method adds to the helpdesk: its section on the person page, its actions.

The helpdesk room names no method: each method says what it shows
(:meth:`~vahva.methods.base.Method.helpdesk_section`) and does
(:meth:`~vahva.methods.base.Method.helpdesk_action`); this room checks the agent and the
ticket first and writes the audit row after, exactly as for its own actions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from vahva import clock
from vahva.accounts.models import User
from vahva.audit.log import record
from vahva.errors import VahvaError
from vahva.methods import registry
from vahva.methods.base import HelpdeskSection

from .access import check_may_act
from .errors import UnknownItem
from .forms import TicketForm


def sections(user: User, *, now: dt.datetime) -> list[HelpdeskSection]:
    """The sections the installed methods add to ``user``'s page."""
    found = (method.helpdesk_section(user, now=now) for method in registry.all_methods())
    return [section for section in found if section is not None]


def act(request: HttpRequest, user: User, kind: str, action: str) -> tuple[str, Any]:
    """Do a method's helpdesk ``action`` for a ticket: (what was done, None), or ("", the
    refusal: a bad form, an agent who may not, the method's own VahvaError)."""
    try:
        method = registry.get(kind)
    except KeyError:
        return "", UnknownItem()
    form = TicketForm(request.POST)
    if not form.is_valid():
        return "", form
    ticket = form.cleaned_data["ticket"]
    try:
        # Privilege escalation / self-service: the same rule as every helpdesk action.
        check_may_act(request.user, user)
        done = method.helpdesk_action(user, action, request.POST.dict(), now=clock.now())
    except VahvaError as exc:
        record(
            "helpdesk.method_action",
            subject=user,
            actor=request.user,
            request=request,
            outcome="failure",
            reason=str(exc.message),
            method=kind,
            step=action[:32],
            ticket=ticket,
        )
        return "", exc
    record(
        "helpdesk.method_action",
        subject=user,
        actor=request.user,
        request=request,
        method=kind,
        step=action[:32],
        ticket=ticket,
        serial=str(request.POST.get("serial", ""))[:64],
    )
    return done, None


def done(request: HttpRequest, user: User, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect(reverse("helpdesk:person", kwargs={"person_id": user.pk}))
