from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuthenticatorConfig(AppConfig):
    name = "vahva.authenticator"
    label = "authenticator"
    verbose_name = _("vahva app devices")
