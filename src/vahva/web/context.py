from __future__ import annotations

from typing import Any

from django.core.signals import setting_changed
from django.http import HttpRequest

from vahva.conf import settings

#: The processor's values, built once: they are the deployment's settings, the same for
#: every request (~10 µs a page through the settings object otherwise).
_values: dict[str, Any] | None = None


def organisation(request: HttpRequest) -> dict[str, Any]:
    global _values
    if _values is None:
        _values = {
            "organisation_name": settings.ORGANISATION_NAME,
            "setup_url": str(settings.PUBLIC_URL).rstrip("/") + "/setup",
            "helpdesk": {
                "email": settings.HELPDESK_EMAIL,
                "phone": settings.HELPDESK_PHONE,
                "url": settings.HELPDESK_URL,
            },
        }
    return dict(_values)  # a copy: a caller that changes it changes only its own


def _forget(**_kwargs: object) -> None:
    """A setting changed (tests' ``override_settings``): build the values again."""
    global _values
    _values = None


setting_changed.connect(_forget)
