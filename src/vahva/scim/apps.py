from django.apps import AppConfig


class ScimConfig(AppConfig):
    """SCIM 2.0 provisioning (RFC 7643/7644): an identity system creates, changes and
    deactivates people and groups at ``/scim/v2``."""

    name = "vahva.scim"
    label = "scim"
    verbose_name = "SCIM provisioning"
    default_auto_field = "django.db.models.BigAutoField"
