from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ValidateConfig(AppConfig):
    name = "vahva.validate"
    label = "validate"
    verbose_name = _("Validation API clients")
