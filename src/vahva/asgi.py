"""ASGI entry point: ``uvicorn vahva.asgi:application``."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vahva.settings.main")

from vahva.web.handler import get_asgi_application

# Django's handler, with each request's thread (and its database connection) kept for the next.
django_application = get_asgi_application()

from vahva.waits import WaitStreams  # noqa: E402  (needs the settings loaded above)

# Event streams (a sign-in waiting for the phone) are carried on outside Django's request, so
# that they hold no thread or database connection while they wait.
application = WaitStreams(django_application)
