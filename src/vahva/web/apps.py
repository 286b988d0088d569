from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    name = "vahva.web"
    label = "web"
    verbose_name = _("Web")

    def ready(self) -> None:
        from vahva import randomness

        from . import checks  # noqa: F401  (registers the system checks)

        # The CSRF token's secrets and masks in one system call each (vahva.randomness).
        randomness.use_for_csrf()
