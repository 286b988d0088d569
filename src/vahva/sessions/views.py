"""Security info's *Sign out* (one other browser) and *Sign out everywhere else*."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from vahva import clock
from vahva.signin.remembered import shown_label

from . import service


# POST only (and CSRF-checked): a link or an image on another site cannot sign anyone out.
@login_required
@require_POST
def sign_out(request: HttpRequest, session_id: int) -> HttpResponse:
    try:
        row = service.end(request, session_id, now=clock.now())
    except service.UnknownSession as exc:
        return render(
            request,
            "web/error.html",
            {"title": _("Unknown session"), "message": exc.message},
            status=exc.status,
        )
    messages.success(
        request, _("%(browser)s was signed out.") % {"browser": shown_label(row.label)}
    )
    return redirect("registration:security_info")


@login_required
@require_POST
def sign_out_others(request: HttpRequest) -> HttpResponse:
    count = service.end_others(request)
    messages.success(
        request,
        ngettext(
            "%(count)d other browser was signed out.",
            "%(count)d other browsers were signed out.",
            count,
        )
        % {"count": count}
        if count
        else _("You were not signed in anywhere else."),
    )
    return redirect("registration:security_info")
