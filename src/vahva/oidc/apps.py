from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OidcConfig(AppConfig):
    name = "vahva.oidc"
    label = "oidc"
    verbose_name = _("Services (OpenID Connect)")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import revoke

        revoke.connect()
