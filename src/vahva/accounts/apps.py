from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "vahva.accounts"
    label = "accounts"
    verbose_name = _("People")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .models import record_last_login

        # Django's update_last_login (connected by django.contrib.auth, listed before this
        # app) saves the person through the ORM at every sign-in; the same UPDATE, written
        # once, replaces it. The signal is still sent: other receivers hear every sign-in.
        user_logged_in.disconnect(dispatch_uid="update_last_login")
        user_logged_in.connect(record_last_login, dispatch_uid="vahva.accounts.last_login")
