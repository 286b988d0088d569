from django.apps import AppConfig


class MethodsConfig(AppConfig):
    name = "vahva.methods"
    label = "methods"
    verbose_name = "Sign-in methods"

    def ready(self) -> None:
        from . import registry

        registry.load()
