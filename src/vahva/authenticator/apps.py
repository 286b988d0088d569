from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class AuthenticatorConfig(AppConfig):
    name = "vahva.authenticator"
    label = "authenticator"
    verbose_name = _("vahva app devices")

    def ready(self) -> None:
        url = getattr(settings, "REDIS_URL", "")
        if url:
            # Several nodes: waits are woken through Redis. Nothing connects yet: the
            # publisher on its first publication, the listener when a stream first waits
            # (only `vahva serve` does), so other management commands open no connection
            # unless they publish an outcome, which the serving nodes then hear.
            from vahva import bus

            from .redis_bus import RedisBus

            bus.install(RedisBus(url))
