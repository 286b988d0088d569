from django.apps import AppConfig


class OidcConfig(AppConfig):
    name = "vahva.oidc"
    label = "oidc"
    verbose_name = "Services (OpenID Connect)"
    default_auto_field = "django.db.models.BigAutoField"
