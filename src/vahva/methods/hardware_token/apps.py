from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HardwareTokenConfig(AppConfig):
    name = "vahva.methods.hardware_token"
    label = "hardware_token"
    verbose_name = _("Hardware tokens")
