"""The helpdesk pages: find a person, see their sign-in, act for a ticket.

Thin: parse the form, call :mod:`.service`, render. Every page is for staff with the
``helpdesk.access`` permission, is never cached, and every change is a POST with a ticket.
A failed form shows the person page again with the reason (400); an id that is not the
person's is a 404; an account the agent may not change is a 403.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from vahva import clock, crypto
from vahva.accounts.models import User
from vahva.authenticator import service as authenticator
from vahva.authenticator.errors import UnknownChallenge
from vahva.errors import VahvaError

from . import passes, service
from .access import helpdesk_required
from .errors import UnknownItem
from .forms import ONE_TIME, PassForm, SearchForm, TicketForm
from .pages import (
    PASS_PURPOSE,
    PASS_SHOWN_WITHIN,
    SESSION_PASS,
    confirmed_action,
    error_page,
    person_page,
    person_view,
    ticket_action,
    ticket_form,
)

# --- finding people ------------------------------------------------------------------------


@require_GET
@never_cache
@helpdesk_required
def index(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    context: dict[str, Any] = {"form": form, "people": [], "more": False, "searched": False}
    if not form.is_bound:
        return render(request, "helpdesk/index.html", context)
    if not form.is_valid():
        return render(request, "helpdesk/index.html", context, status=400)
    people, more = service.search(form.cleaned_data["q"])
    context.update(people=people, more=more, searched=bool(form.cleaned_data["q"].strip()))
    return render(request, "helpdesk/index.html", context)


@person_view("GET")
def person(request: HttpRequest, user: User) -> HttpResponse:
    service.viewed(user, actor=request.user, request=request)
    return person_page(request, user)


# --- verifying the caller ------------------------------------------------------------------


@person_view("POST")
def check(request: HttpRequest, user: User) -> HttpResponse:
    def act(form: TicketForm) -> HttpResponse:
        sent = service.check_caller(
            user,
            ticket=form.cleaned_data["ticket"],
            now=clock.now(),
            actor=request.user,
            request=request,
        )
        return redirect(
            reverse("helpdesk:check_page", kwargs={"person_id": user.pk, "check_id": sent.id})
        )

    return ticket_action(request, user, "check", TicketForm, act)


def _check_of(user: User, check_id: object) -> authenticator.HelpdeskCheck:
    try:
        return authenticator.helpdesk_check_of(user, check_id, now=clock.now())
    except UnknownChallenge:
        raise UnknownItem() from None


@person_view("GET")
def check_page(request: HttpRequest, user: User, check_id: Any) -> HttpResponse:
    try:
        found = _check_of(user, check_id)
    except VahvaError as exc:
        return error_page(request, exc)
    return render(
        request,
        "helpdesk/check.html",
        {
            "person": user,
            "check": found,
            # "Send another check" is for the same ticket, most likely.
            "form": TicketForm(prefix="check", initial={"ticket": found.ticket}),
        },
    )


@person_view("GET")
def check_status(request: HttpRequest, user: User, check_id: Any) -> JsonResponse:
    """For the check page to poll: "pending", or "done" (the page then reloads and says how)."""
    try:
        found = _check_of(user, check_id)
    except VahvaError as exc:
        return JsonResponse({"state": "gone", "message": str(exc.message)}, status=exc.status)
    return JsonResponse({"state": "pending" if found.pending else "done"})


# --- temporary access pass -----------------------------------------------------------------


@person_view("POST")
def issue_pass(request: HttpRequest, user: User) -> HttpResponse:
    def act(form: PassForm) -> HttpResponse:
        registered, code = passes.issue(
            user,
            ticket=form.cleaned_data["ticket"],
            lifetime=form.cleaned_data["lifetime"],
            one_time=form.cleaned_data["use"] == ONE_TIME,
            now=clock.now(),
            actor=request.user,
            request=request,
        )
        # Post/redirect/get: a reload of the page that shows the pass must not issue another
        # one, silently replacing the pass just read to the caller. The pass waits for that
        # one page in the agent's session, encrypted, never in a URL or a log.
        request.session[SESSION_PASS] = {
            "person": user.pk,
            "method": registered.pk,
            "code": crypto.encrypt(code, purpose=PASS_PURPOSE),
            "at": clock.now().timestamp(),
        }
        return redirect(reverse("helpdesk:pass_shown", kwargs={"person_id": user.pk}))

    return ticket_action(request, user, "pass", PassForm, act)


def _pass_to_show(request: HttpRequest, user: User) -> str:
    """The pass issued just before for ``user``, once: it leaves the session as it is read."""
    waiting = request.session.pop(SESSION_PASS, None)
    if not isinstance(waiting, dict) or waiting.get("person") != user.pk:
        return ""
    if clock.now().timestamp() - float(waiting.get("at") or 0) > PASS_SHOWN_WITHIN:
        return ""
    active = passes.active(user, now=clock.now())
    # Replaced or revoked in between (another agent): that pass no longer works.
    if active is None or active.pk != waiting.get("method"):
        return ""
    try:
        return crypto.decrypt(str(waiting["code"]), purpose=PASS_PURPOSE)
    except (crypto.DecryptionError, KeyError):
        return ""


@person_view("GET")
def pass_shown(request: HttpRequest, user: User) -> HttpResponse:
    """The pass, the first time; after that (a reload, Back) only what it is and an explicit
    way to issue another."""
    code = _pass_to_show(request, user)
    active = passes.active(user, now=clock.now())
    return render(
        request,
        "helpdesk/pass.html",
        {
            "person": user,
            "code": code,
            "registered": active,
            "one_time": bool(active and active.data.get("one_time")),
            "form": ticket_form(request, user, PassForm, prefix="pass"),
        },
    )


@person_view("GET", "POST")
def revoke_pass(request: HttpRequest, user: User) -> HttpResponse:
    def act(ticket: str) -> str:
        if passes.revoke(user, ticket=ticket, actor=request.user, request=request):
            return _("The temporary access pass was revoked.")
        return _("There was no working temporary access pass to revoke.")

    return confirmed_action(
        request,
        user,
        title=_("Revoke the temporary access pass"),
        what=_("The pass stops working at once, even if nobody has used it yet."),
        button=_("Revoke pass"),
        act=act,
    )
