from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SessionsConfig(AppConfig):
    name = "vahva.sessions"
    # "sessions" is django.contrib.sessions' label.
    label = "vahva_sessions"
    verbose_name = _("Browser sessions")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import service

        service.connect()
