from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MethodsConfig(AppConfig):
    name = "vahva.methods"
    label = "methods"
    verbose_name = _("Sign-in methods")

    def ready(self) -> None:
        from . import registry

        registry.load()
