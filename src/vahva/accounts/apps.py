from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "vahva.accounts"
    label = "accounts"
    verbose_name = "People"
