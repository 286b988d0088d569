from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "vahva.audit"
    label = "audit"
    verbose_name = "Audit log"
