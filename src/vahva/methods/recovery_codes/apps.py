from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecoveryCodesConfig(AppConfig):
    name = "vahva.methods.recovery_codes"
    label = "recovery_codes"
    verbose_name = _("Recovery codes")
