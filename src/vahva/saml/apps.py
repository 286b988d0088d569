from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SamlConfig(AppConfig):
    name = "vahva.saml"
    label = "saml"
    verbose_name = _("Services (SAML 2.0)")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the start-up checks)
