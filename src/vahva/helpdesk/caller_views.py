"""The pages of verifying a caller without the app: start a check, read the code back, or
confirm the organisation's procedure. Thin: parse, call :mod:`.callers`, render.

Every change is a POST with a CSRF token (a GET starts and checks nothing); the check's page
is a GET after a redirect, so a reload neither sends another code nor tries one again.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from vahva import clock
from vahva.accounts.models import User
from vahva.errors import RateLimited, VahvaError

from . import callers
from .forms import CallerCodeForm, CallerForm, ProcedureForm
from .models import CallerCheck
from .pages import error_page, finished, person_view, ticket_action

#: The message the check's page shows once after its code was sent ("A code was texted…").
SESSION_SENT = "helpdesk.caller_sent"


def _page_of(user: User, check: CallerCheck) -> str:
    return reverse("helpdesk:caller_page", kwargs={"person_id": user.pk, "check_id": check.pk})


@person_view("POST")
def start(request: HttpRequest, user: User) -> HttpResponse:
    def act(form: CallerForm) -> HttpResponse:
        check, done = callers.start(
            user,
            form.cleaned_data["way"],
            ticket=form.cleaned_data["ticket"],
            now=clock.now(),
            actor=request.user,
            request=request,
        )
        request.session[SESSION_SENT] = {"check": str(check.pk), "done": done}
        return redirect(_page_of(user, check))

    return ticket_action(request, user, "caller", CallerForm, act)


def _check_page(
    request: HttpRequest,
    user: User,
    check: CallerCheck,
    *,
    form: CallerCodeForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    sent = request.session.get(SESSION_SENT)
    done = ""
    if isinstance(sent, dict) and sent.get("check") == str(check.pk):
        done = str(sent.get("done") or "")
    now = clock.now()
    pending = check.state == CallerCheck.State.PENDING and check.expires_at > now
    return render(
        request,
        "helpdesk/caller.html",
        {
            "person": user,
            "check": check,
            "pending": pending,
            "verified": check.state == CallerCheck.State.VERIFIED,
            "done": done,
            "hint": next(
                (w.offer.hint for w in callers.ways(user, now=now) if w.value == _way(check)), ""
            ),
            "form": form or CallerCodeForm(),
            "error": error,
        },
        status=status,
    )


def _way(check: CallerCheck) -> str:
    return f"{check.kind}:{check.registered}"


@person_view("GET")
def page(request: HttpRequest, user: User, check_id: Any) -> HttpResponse:
    try:
        check = callers.check_of(user, check_id)
    except VahvaError as exc:
        return error_page(request, exc)
    return _check_page(request, user, check)


@person_view("POST")
def code(request: HttpRequest, user: User, check_id: Any) -> HttpResponse:
    try:
        check = callers.check_of(user, check_id)
    except VahvaError as exc:
        return error_page(request, exc)
    form = CallerCodeForm(request.POST)
    if not form.is_valid():
        return _check_page(request, user, check, form=form, status=400)
    try:
        callers.verify(
            user,
            check.pk,
            form.cleaned_data["code"],
            now=clock.now(),
            actor=request.user,
            request=request,
        )
    except VahvaError as exc:
        if exc.status in (403, 404):
            return error_page(request, exc)
        check.refresh_from_db()
        response = _check_page(
            request,
            user,
            check,
            form=CallerCodeForm(),
            error=_("Not verified: %(reason)s") % {"reason": exc.message},
            status=exc.status,
        )
        if isinstance(exc, RateLimited) and exc.retry_after:
            response["Retry-After"] = str(exc.retry_after)
        return response
    # Post/redirect/get: a reload shows the result; it does not send the code again.
    return redirect(_page_of(user, check))


@person_view("POST")
def procedure(request: HttpRequest, user: User) -> HttpResponse:
    def act(form: ProcedureForm) -> HttpResponse:
        callers.confirm_procedure(
            user,
            ticket=form.cleaned_data["ticket"],
            now=clock.now(),
            actor=request.user,
            request=request,
        )
        return finished(
            request,
            user,
            _(
                "Recorded: you verified the caller by the organisation's procedure "
                "(ticket %(ticket)s)."
            )
            % {"ticket": form.cleaned_data["ticket"]},
        )

    return ticket_action(request, user, "procedure", ProcedureForm, act)
