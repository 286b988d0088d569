from django.contrib import admin

from .models import Service


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("application", "mfa_rule")
    list_editable = ("mfa_rule",)
    list_display_links = ("application",)
