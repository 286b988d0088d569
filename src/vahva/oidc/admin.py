"""Services in the admin site: the toolkit's application page, with vahva's MFA rule inline."""

from typing import Any

import oauth2_provider.admin  # noqa: F401  (registers the toolkit's pages, replaced below)
from django.contrib import admin
from oauth2_provider.models import get_application_admin_class, get_application_model

from .models import Service

Application = get_application_model()


class ServiceInline(admin.StackedInline):  # type: ignore[type-arg]
    model = Service
    can_delete = False
    extra = 1
    max_num = 1


class ApplicationAdmin(get_application_admin_class()):  # type: ignore[misc]
    """Adding a service shows its client secret once (the toolkit hashes it when saved)."""

    inlines = (ServiceInline,)

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        if not obj.algorithm:
            # ID tokens must be signed: an application without an algorithm could not get one.
            obj.algorithm = Application.RS256_ALGORITHM
        super().save_model(request, obj, form, change)


admin.site.unregister(Application)
admin.site.register(Application, ApplicationAdmin)


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("application", "mfa_rule")
    list_editable = ("mfa_rule",)
    list_display_links = ("application",)
