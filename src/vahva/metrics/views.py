"""``GET /metrics``: off unless VAHVA["METRICS_ENABLED"], and only with the bearer token."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterator

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

from vahva.conf import settings

from .counters import REGISTRY
from .state import StateCollector

#: prometheus_client's multiprocess mode: every worker writes its counts here.
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


class _ThisProcess:
    """This process's own counters (one worker, no multiprocess directory)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition() -> bytes:
    """The metrics in Prometheus's text format: the counters, then the database's state."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_DIR):
        # Several workers: every worker's counts, added up from their files.
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    registry.register(StateCollector())
    return generate_latest(registry)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _refused(status: int, text: str) -> HttpResponse:
    response = HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = str(settings.METRICS_TOKEN)
    if not settings.METRICS_ENABLED or not token:
        # Off (or on without a token, which the settings refuse): as if there were no page.
        raise Http404()
    scheme, _space, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return _refused(401, _("The metrics need the bearer token."))
    # Timing attack on the token: both sides hashed to 32 bytes, compared in constant time.
    if not hmac.compare_digest(_digest(given.strip()), _digest(token)):
        return _refused(403, _("That is not the metrics token."))
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
