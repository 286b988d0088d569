from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from vahva.conf import settings


def organisation(request: HttpRequest) -> dict[str, Any]:
    return {
        "organisation_name": settings.ORGANISATION_NAME,
        "setup_url": str(settings.PUBLIC_URL).rstrip("/") + "/setup",
        "helpdesk": {
            "email": settings.HELPDESK_EMAIL,
            "phone": settings.HELPDESK_PHONE,
            "url": settings.HELPDESK_URL,
        },
    }
