"""The dev phone: an inbox of texts and a ringing call with a keypad, per number.

Only while the dev gateway is configured, and only in development (or with
VAHVA["DEV_PHONE"]); otherwise every page here is a 404.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from . import dev
from .models import DevCall, DevText


def _guard() -> None:
    if not dev.enabled():
        raise Http404()


@require_GET
def phones(request: HttpRequest) -> HttpResponse:
    _guard()
    return render(request, "gateways/dev_phones.html", {"numbers": dev.numbers()})


@require_GET
def phone(request: HttpRequest, number: str) -> HttpResponse:
    _guard()
    call = dev.current_call(number)
    last = call or DevCall.objects.filter(number=number).first()
    return render(
        request,
        "gateways/dev_phone.html",
        {
            "number": number,
            "texts": DevText.objects.filter(number=number)[:20],
            "call": call,
            "last_call": last,
            "keys": list(dev.KEYS),
        },
    )


@require_POST
def act(request: HttpRequest, number: str, call_id: str) -> HttpResponse:
    _guard()
    call = get_object_or_404(DevCall, number=number, call_id=call_id)
    action = request.POST.get("action", "")
    if action not in ("answer", "decline", "hangup", "key"):
        return render(
            request,
            "web/error.html",
            {"title": "Unknown action", "message": "Answer, decline, hang up or press a key."},
            status=400,
        )
    dev.act(call, action, request.POST.get("key", ""))
    return redirect("gateways:dev_phone", number=number)
