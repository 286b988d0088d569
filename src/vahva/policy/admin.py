from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from vahva.audit.log import record

from .models import Exemption, TrustedNetwork


@admin.register(TrustedNetwork)
class TrustedNetworkAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "enabled", "note")

    def save_model(
        self, request: HttpRequest, obj: TrustedNetwork, form: Any, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        # Widening a trusted network lets more addresses skip MFA: who did it stays on record.
        record(
            "policy.network_saved",
            actor=request.user,
            request=request,
            network=obj.name,
            blocks=obj.block_list(),
            enabled=obj.enabled,
        )

    def delete_model(self, request: HttpRequest, obj: TrustedNetwork) -> None:
        record("policy.network_deleted", actor=request.user, request=request, network=obj.name)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for network in queryset:
            self.delete_model(request, network)


@admin.register(Exemption)
class ExemptionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: exemptions are granted and revoked on the helpdesk pages, with a ticket."""

    list_display = ("user", "ticket", "reason", "created_at", "expires_at", "revoked_at")
    search_fields = ("user__email", "ticket", "reason")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
