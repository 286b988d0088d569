"""System checks for the phone gateway: a typo in its path or a half-configured Twilio account
is reported at start-up."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from vahva.conf import settings


@register()
def check_phone_gateway(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        path = str(settings.PHONE_GATEWAY)
        twilio = dict(settings.TWILIO)
    except ImproperlyConfigured:
        return []  # vahva.E001 reports the settings themselves
    try:
        gateway = import_string(path)
    except ImportError as exc:
        return [
            Error(
                f"VAHVA['PHONE_GATEWAY'] {path!r} cannot be imported: {exc}",
                id="vahva.E101",
            )
        ]
    from .dev import DevGateway
    from .twilio import TwilioGateway

    if isinstance(gateway, type) and issubclass(gateway, DevGateway):
        from django.conf import settings as django_settings

        if not django_settings.DEBUG and not settings.DEV_PHONE:
            # Silent failure: people would wait for texts and calls that never leave.
            return [
                Warning(
                    "The phone gateway is the development one and the dev phone is off: "
                    "texts and calls reach no phone. Set VAHVA['PHONE_GATEWAY'] to a real "
                    "gateway (vahva.gateways.twilio.TwilioGateway), or dev_phone = true for a "
                    "demonstration.",
                    id="vahva.W101",
                )
            ]

    if isinstance(gateway, type) and issubclass(gateway, TwilioGateway):
        missing = [k for k in ("account_sid", "auth_token", "from_number") if not twilio.get(k)]
        if missing:
            return [
                Error(
                    f"VAHVA['TWILIO'] is missing {', '.join(missing)} for the Twilio gateway.",
                    id="vahva.E102",
                )
            ]
    return []
