from django.apps import AppConfig


class RegistrationConfig(AppConfig):
    name = "vahva.registration"
    label = "registration"
    verbose_name = "Registration"
