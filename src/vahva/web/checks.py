"""System checks: bad configuration is reported at start-up, not discovered in production."""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from vahva.conf import validate


@register()
def check_vahva_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        values = validate(getattr(django_settings, "VAHVA", {}))
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="vahva.E001")]
    problems: list[CheckMessage] = []
    if not values["ENCRYPTION_KEYS"]:
        problems.append(
            Error(
                "VAHVA['ENCRYPTION_KEYS'] is empty: secrets at rest cannot be encrypted.",
                hint="Run `vahva init` to write a configuration with fresh keys.",
                id="vahva.E002",
            )
        )
    if not str(values["PUBLIC_URL"]).startswith(
        ("https://", "http://localhost", "http://127.0.0.1")
    ):
        problems.append(
            Warning(
                "VAHVA['PUBLIC_URL'] is not https: the vahva app and QR links need a "
                "secure origin.",
                id="vahva.W001",
            )
        )
    return problems
