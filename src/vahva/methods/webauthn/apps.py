from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebAuthnConfig(AppConfig):
    name = "vahva.methods.webauthn"
    label = "webauthn"
    verbose_name = _("Security keys and passkeys")
