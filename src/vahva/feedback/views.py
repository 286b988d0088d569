"""The feedback form's pages: send (from /help or its own page) and the thanks after it."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from vahva import clock
from vahva.errors import RateLimited

from . import service
from .forms import FeedbackForm

log = logging.getLogger(__name__)


@require_http_methods(["GET", "POST"])
def send(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "feedback/page.html", {"feedback_form": FeedbackForm()})
    form = FeedbackForm(request.POST)
    if not form.is_valid():
        return render(request, "feedback/page.html", {"feedback_form": form}, status=400)
    if form.is_spam():
        # A robot filled the hidden field: it sees the same thanks as a person, so it learns
        # nothing to adapt to, and nothing is saved.
        log.info("feedback from %s dropped as spam", getattr(request, "client_ip", None))
        return redirect("feedback:thanks")
    data = form.cleaned_data
    try:
        service.submit(
            message=data["message"],
            name=data["name"],
            contact=data["contact"],
            person=request.user,
            ip=getattr(request, "client_ip", None) or request.META.get("REMOTE_ADDR"),
            now=clock.now(),
        )
    except RateLimited as exc:
        response = render(
            request,
            "feedback/page.html",
            {"feedback_form": form, "feedback_error": exc.message},
            status=exc.status,
        )
        response["Retry-After"] = str(exc.retry_after)
        return response
    # Post/redirect/get: reloading the thanks page does not send the message again.
    return redirect("feedback:thanks")


@require_http_methods(["GET"])
def thanks(request: HttpRequest) -> HttpResponse:
    return render(request, "feedback/thanks.html")
