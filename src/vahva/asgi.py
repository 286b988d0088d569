"""ASGI entry point: ``uvicorn vahva.asgi:application``."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vahva.settings.main")
django_application = get_asgi_application()

from vahva.waits import WaitStreams  # noqa: E402  (needs the settings loaded above)

# Event streams (a sign-in waiting for the phone) are carried on outside Django's request, so
# that they hold no thread or database connection while they wait.
application = WaitStreams(django_application)
