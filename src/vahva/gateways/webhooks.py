"""Twilio's webhooks: a call's status callbacks and its <Gather> keys.

Every request must carry a valid ``X-Twilio-Signature`` (HMAC of the URL and parameters under
the account's auth token, checked with the library's RequestValidator): anyone can post to
these addresses, and a forged "#" would approve a sign-in. Unsigned or forged: 403. A call
vahva does not know (or no longer waits for): 404.
"""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from vahva.conf import settings

from . import base
from .base import CallEvent, CallEventKind, CallReply
from .twilio import TwilioGateway, gather_twiml, gather_url, goodbye_twiml, webhook_base

#: Twilio's CallStatus values and what they are to us.
_STATUS = {
    "ringing": (CallEventKind.RINGING, ""),
    "in-progress": (CallEventKind.ANSWERED, ""),
    "completed": (CallEventKind.ENDED, "completed"),
    "busy": (CallEventKind.ENDED, "busy"),
    "no-answer": (CallEventKind.ENDED, "no-answer"),
    "failed": (CallEventKind.ENDED, "failed"),
    "canceled": (CallEventKind.ENDED, "canceled"),
}


def _checked(request: HttpRequest, call_id: str) -> str | HttpResponse:
    if not isinstance(base.get(), TwilioGateway):
        raise Http404()
    token = str(settings.TWILIO.get("auth_token", ""))
    signature = request.headers.get("X-Twilio-Signature", "")
    # The URL Twilio was given (the public base), not the Host header an attacker sets.
    url = webhook_base() + request.get_full_path()
    if (
        not token
        or not signature
        or not RequestValidator(token).validate(url, request.POST, signature)
    ):
        return HttpResponseForbidden("invalid signature", content_type="text/plain")
    try:
        return str(uuid.UUID(call_id))
    except ValueError:
        raise Http404() from None


def _twiml(text: str) -> HttpResponse:
    return HttpResponse(text, content_type="text/xml")


@csrf_exempt
@require_POST
def status(request: HttpRequest, call_id: str) -> HttpResponse:
    checked = _checked(request, call_id)
    if isinstance(checked, HttpResponse):
        return checked
    found = _STATUS.get(request.POST.get("CallStatus", ""))
    if found is None:
        return HttpResponse(status=204)  # "initiated", "queued": nothing to tell
    kind, reason = found
    answer = base.call_event(CallEvent(checked, kind, reason=reason))
    if answer.reply == CallReply.UNKNOWN:
        raise Http404()
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def gather(request: HttpRequest, call_id: str) -> HttpResponse:
    checked = _checked(request, call_id)
    if isinstance(checked, HttpResponse):
        return checked
    keys = request.POST.get("Digits", "")[:8]
    answer = base.call_event(CallEvent(checked, CallEventKind.KEYS, keys=keys))
    if answer.reply == CallReply.UNKNOWN:
        raise Http404()
    if answer.reply == CallReply.AGAIN:
        return _twiml(
            gather_twiml(answer.say, action=gather_url(checked), language=answer.language)
        )
    return _twiml(goodbye_twiml(answer.say, language=answer.language))
