"""SAML services in the admin site: add one by uploading its metadata file."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from vahva.audit.log import record

from . import attributes, providers
from .models import ServiceProvider


class ServiceProviderForm(forms.ModelForm):  # type: ignore[type-arg]
    metadata_file = forms.FileField(
        label=_("Metadata file"),
        required=False,
        help_text=_("The service's SAML metadata (XML). Replaces the metadata below."),
    )
    release = forms.MultipleChoiceField(
        label=_("Released attributes"),
        choices=[(name, name) for name in attributes.ALL],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        initial=list(attributes.DEFAULT_RELEASE),
    )

    class Meta:
        model = ServiceProvider
        fields = [
            "metadata_file",
            "name",
            "mfa_rule",
            "profile",
            "release",
            "require_signed_requests",
            "enabled",
            "metadata_xml",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["metadata_xml"].required = False
        self.fields["name"].required = False

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        upload = cleaned.get("metadata_file")
        xml = ""
        try:
            if upload is not None:
                if upload.size > providers.MAX_METADATA_BYTES:
                    raise providers.InvalidService("the metadata file is larger than 1 MB")
                xml, facts = providers.read_metadata(upload.read())
            elif cleaned.get("metadata_xml"):
                xml, facts = providers.read_metadata(cleaned["metadata_xml"].encode("utf-8"))
            else:
                raise providers.InvalidService("upload the service's metadata file")
        except providers.InvalidService as exc:
            raise forms.ValidationError(str(exc)) from None
        others = ServiceProvider.objects.filter(entity_id=facts.entity_id)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(_("A service with this entity id exists already."))
        cleaned["metadata_xml"] = xml
        self.instance.entity_id = facts.entity_id
        if not cleaned.get("name"):
            cleaned["name"] = (facts.display_name or facts.entity_id)[:150]
        return cleaned


@admin.register(ServiceProvider)
class ServiceProviderAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = ServiceProviderForm
    list_display = ("name", "entity_id", "mfa_rule", "profile", "enabled")
    list_filter = ("enabled", "profile", "mfa_rule")
    search_fields = ("name", "entity_id")
    readonly_fields = ("entity_id",)

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        record(
            "saml.sp_changed" if change else "saml.sp_added",
            actor=request.user,
            request=request,
            reason=f"service {obj.name}",
            service=obj.entity_id,
        )
