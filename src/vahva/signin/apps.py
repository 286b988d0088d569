from django.apps import AppConfig


class SigninConfig(AppConfig):
    name = "vahva.signin"
    label = "signin"
    verbose_name = "Sign-in"
