"""The token stock in the admin: who has which token; importing stays a command (a secret
file on the server, not an upload through a browser)."""

from __future__ import annotations

from django.contrib import admin

from .models import HardwareToken


@admin.register(HardwareToken)
class HardwareTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("serial", "algorithm", "digits", "state", "reserved_for", "batch")
    list_filter = ("state", "algorithm", "batch")
    search_fields = ("serial", "registered__user__email", "reserved_for__email")
    # The secret and the counters are never shown nor edited by hand.
    fields = ("serial", "algorithm", "digits", "period", "manufacturer", "batch", "state")
    readonly_fields = fields

    def has_add_permission(self, request: object) -> bool:
        return False
