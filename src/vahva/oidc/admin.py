"""Services in the admin site: the toolkit's application page, with vahva's MFA rule inline."""

from typing import Any

import oauth2_provider.admin  # noqa: F401  (registers the toolkit's pages, replaced below)
from django.contrib import admin
from oauth2_provider.models import get_application_admin_class, get_application_model

from vahva.audit.log import record

from .models import Service

Application = get_application_model()


class ServiceInline(admin.StackedInline):  # type: ignore[type-arg]
    model = Service
    can_delete = False
    extra = 1
    max_num = 1


def audit_service(request: Any, service: Service) -> None:
    """An audit row for a service's rule and PKCE exemption as saved in the admin."""
    record(
        "oidc.service_changed",
        actor=request.user,
        request=request,
        reason=f"service {service.application.name}",
        client_id=service.application.client_id,
        mfa_rule=service.mfa_rule,
        allow_without_pkce=service.allow_without_pkce,
    )


class ApplicationAdmin(get_application_admin_class()):  # type: ignore[misc]
    """Adding a service shows its client secret once (the toolkit hashes it when saved)."""

    inlines = (ServiceInline,)

    def save_formset(self, request: Any, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        for service in formset.queryset.model.objects.filter(application=form.instance):
            audit_service(request, service)

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        # ID tokens are signed with vahva's RSA key, whatever the form says: an HS256 token is
        # signed with the client's own secret (anyone holding it could forge one), and
        # discovery advertises RS256 only.
        obj.algorithm = Application.RS256_ALGORITHM
        super().save_model(request, obj, form, change)


admin.site.unregister(Application)
admin.site.register(Application, ApplicationAdmin)


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("application", "mfa_rule", "allow_without_pkce")
    list_editable = ("mfa_rule",)
    list_display_links = ("application",)

    def save_model(self, request: Any, obj: Service, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Letting a service off PKCE weakens it against code injection: always on record.
        audit_service(request, obj)
