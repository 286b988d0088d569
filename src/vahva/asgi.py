"""ASGI entry point: ``uvicorn vahva.asgi:application``."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vahva.settings.main")
application = get_asgi_application()
