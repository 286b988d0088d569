from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RadiusConfig(AppConfig):
    name = "vahva.radius"
    label = "radius"
    verbose_name = _("RADIUS clients")
