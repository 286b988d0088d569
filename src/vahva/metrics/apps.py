from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    name = "vahva.metrics"
    label = "metrics"
    verbose_name = _("Metrics")

    def ready(self) -> None:
        from . import counters

        counters.connect()
