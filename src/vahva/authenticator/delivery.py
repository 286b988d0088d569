"""Tell devices that a challenge waits for them, every way at once.

The database is the source of truth and polling ``/pending`` always works; these only make it
quicker: devices with an open event stream are woken through the bus (``device:<id>``), and
devices with a Web Push subscription get a push. Neither may hold up the sign-in that made the
challenge, and neither failing changes any outcome.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence

from django.db import close_old_connections

from vahva import clock

from . import bus, webpush

log = logging.getLogger(__name__)


def device_key(device_id: object) -> str:
    """The bus key an open event stream of this device waits on."""
    return f"device:{device_id}"


def dispatch(challenge_id: uuid.UUID, device_ids: Sequence[uuid.UUID]) -> None:
    """Run after the challenge is committed: wake open streams now, push in the background."""
    for device_id in device_ids:
        bus.get().publish(device_key(device_id), "challenge")
    thread = threading.Thread(
        target=_push, args=(challenge_id, list(device_ids)), name="vahva-webpush", daemon=True
    )
    thread.start()


def _push(challenge_id: uuid.UUID, device_ids: list[uuid.UUID]) -> None:
    try:
        webpush.notify(challenge_id, device_ids, now=clock.now())
    except Exception:
        # A push service being down or slow is never the sign-in's problem: the app polls.
        log.exception("web push for challenge %s failed", challenge_id)
    finally:
        close_old_connections()
