"""Feedback in the admin site: a read-only list with search and a CSV export."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from vahva import clock
from vahva.audit.log import record
from vahva.insights.export import csv_response

from .models import Feedback

EXPORT_HEADER = ("sent", "message", "name", "contact", "signed in as")


@admin.action(description=_("Download the selected feedback as CSV"))
def export_csv(
    modeladmin: FeedbackAdmin, request: HttpRequest, queryset: QuerySet[Feedback]
) -> StreamingHttpResponse:
    rows = queryset.select_related("person").order_by("-created_at", "-id")
    # Contact details leave the service in this file: say who took them, and how many.
    record("feedback.export", actor=request.user, request=request, count=rows.count())
    current = timezone.get_current_timezone()
    stamp = clock.now().strftime("%Y%m%d-%H%M%S")
    return csv_response(
        f"feedback-{stamp}.csv",
        EXPORT_HEADER,
        (
            [
                item.created_at.astimezone(current).isoformat(timespec="seconds"),
                item.message,
                item.name,
                item.contact,
                item.person.email if item.person else "",
            ]
            for item in rows.iterator(chunk_size=500)
        ),
    )


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("created_at", "summary", "name", "contact", "person")
    search_fields = ("message", "name", "contact", "person__email")
    date_hierarchy = "created_at"
    list_select_related = ("person",)
    fields = ("created_at", "message", "name", "contact", "person")
    readonly_fields = fields
    actions = [export_csv]

    class Media:
        css = {"all": ("feedback/admin.css",)}  # underlined breadcrumb links (WCAG 1.4.1)

    @admin.display(description=_("message"))
    def summary(self, item: Feedback) -> str:
        return Truncator(item.message).chars(80)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
