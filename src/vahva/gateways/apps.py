from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GatewaysConfig(AppConfig):
    name = "vahva.gateways"
    label = "gateways"
    verbose_name = _("Phone gateways")

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
