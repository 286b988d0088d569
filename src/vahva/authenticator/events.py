"""``GET /api/device/v1/events``: server-sent events for a device while the app is open.

Signed like every device request (see :mod:`.protocol`), so the app reads it with ``fetch``
(EventSource cannot send headers). Each event is the list of requests waiting for this device,
``{"pending": [<challenge id>, ...]}``: sent at once, then whenever it changes (a new request,
one answered here or on another device, one expiring). The stream is carried on outside
Django by :mod:`vahva.waits`, so an open app holds no thread or database connection.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from vahva import clock, waits
from vahva.errors import VahvaError

from . import delivery, service
from .api import signed_device
from .errors import code_of
from .models import Device


def _pending(device_id: str) -> tuple[dict[str, Any], bool, float | None]:
    device = Device.objects.filter(pk=device_id).first()
    if device is None or device.status == Device.Status.REMOVED:
        # Removed while the app was open: the stream ends, the app's next request says why.
        return {"pending": [], "removed": True}, True, None
    waiting = service.pending_for(device, now=clock.now())
    until = min((c.expires_at for c in waiting), default=None)
    return (
        {"pending": [str(c.pk) for c in waiting]},
        False,
        until.timestamp() if until else None,
    )


waits.register("device", _pending)


@require_GET
def device_events(request: HttpRequest) -> HttpResponse:
    try:
        device = signed_device(request)
    except VahvaError as exc:
        return JsonResponse({"error": code_of(exc), "message": str(exc.message)}, status=exc.status)
    wait = waits.Wait(checker="device", argument=str(device.pk), key=delivery.device_key(device.pk))
    # The first event is the checker's own reading: one read, carried on by the stream.
    return waits.event_stream(request, None, wait)
