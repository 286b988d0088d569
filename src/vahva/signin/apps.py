from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SigninConfig(AppConfig):
    name = "vahva.signin"
    label = "signin"
    verbose_name = _("Sign-in")

    def ready(self) -> None:
        from . import remembered

        remembered.connect()
