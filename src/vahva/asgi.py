"""ASGI entry point: ``uvicorn vahva.asgi:application``."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vahva.settings.main")

from vahva.web.handler import get_asgi_application

# Django's handler, with each request's thread (and its database connection) kept for the next.
django_application = get_asgi_application()

from django.urls import get_resolver  # noqa: E402  (needs the settings loaded above)

from vahva.waits import WaitStreams  # noqa: E402

# Event streams (a sign-in waiting for the phone) are carried on outside Django's request, so
# that they hold no thread or database connection while they wait.
application = WaitStreams(django_application)


def freeze_start_up() -> int:
    """Move what start-up made (Django, every view, ~200,000 objects) out of the collector's
    reach; the number of objects frozen.

    They live as long as the process, yet each full collection walked them all: about 90 ms
    of CPU on this project's two-core machine, taken in one go on whichever request or
    stream notification allocated last, which is where the push p99's tail came from
    (bench/README.md, "Start-up frozen"). ``gc.freeze()`` puts them in the permanent
    generation, which no collection walks; garbage made later is collected as before.
    """
    # Django imports the URLconf (and with it every view module) on the first request:
    # import it now, so that it is frozen too.
    _ = get_resolver().url_patterns
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


freeze_start_up()
