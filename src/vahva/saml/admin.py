"""SAML services and federations in the admin site: add a service by uploading its metadata
file or giving its address; add a federation's aggregate and refresh it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from vahva.audit.log import record

from . import attributes, federation, providers
from .models import Federation, ServiceProvider


class ServiceProviderForm(forms.ModelForm):  # type: ignore[type-arg]
    metadata_file = forms.FileField(
        label=_("Metadata file"),
        required=False,
        help_text=_("The service's SAML metadata (XML). Replaces the metadata below."),
    )
    metadata_url = forms.URLField(
        label=_("Metadata address"),
        required=False,
        assume_scheme="https",
        help_text=_("Or the address vahva downloads the service's metadata from (http or https)."),
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
            "metadata_url",
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
            elif cleaned.get("metadata_url"):
                data = providers.download_metadata(cleaned["metadata_url"])
                xml, facts = providers.read_metadata(data)
            elif cleaned.get("metadata_xml"):
                xml, facts = providers.read_metadata(cleaned["metadata_xml"].encode("utf-8"))
            else:
                raise providers.InvalidService(
                    "upload the service's metadata file or give its address"
                )
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
    list_display = ("name", "entity_id", "mfa_rule", "profile", "federation", "enabled")
    list_filter = ("enabled", "profile", "mfa_rule", "federation")
    search_fields = ("name", "entity_id")
    readonly_fields = ("entity_id", "federation")

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        record(
            "saml.sp_changed" if change else "saml.sp_added",
            actor=request.user,
            request=request,
            reason=f"service {obj.name}",
            service=obj.entity_id,
        )


class FederationForm(forms.ModelForm):  # type: ignore[type-arg]
    url = forms.URLField(
        label=_("Aggregate address"),
        max_length=1024,
        assume_scheme="https",
        help_text=_("The address of the federation's signed metadata aggregate."),
    )
    release = forms.MultipleChoiceField(
        label=_("Released attributes"),
        choices=[(name, name) for name in attributes.ALL],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "What every service of the federation may receive. Services in the REFEDS "
            "Research and Scholarship category also receive its attributes."
        ),
    )

    class Meta:
        model = Federation
        fields = ["name", "url", "cert_pem", "mfa_rule", "release"]
        help_texts = {
            "cert_pem": _(
                "The federation's metadata signing certificate (PEM). Check it with the "
                "federation operator's published fingerprint."
            ),
        }

    def clean_cert_pem(self) -> str:
        try:
            return federation.check_certificate(str(self.cleaned_data.get("cert_pem") or ""))
        except providers.InvalidService as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(Federation)
class FederationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = FederationForm
    list_display = ("name", "url", "valid_until", "refreshed_at", "last_error")
    readonly_fields = ("valid_until", "refreshed_at", "last_error")
    actions = ["refresh"]

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        record(
            "saml.federation_changed" if change else "saml.federation_added",
            actor=request.user,
            request=request,
            reason=f"federation {obj.name}",
            url=obj.url,
        )

    @admin.action(description=_("Refresh the selected federations now"))
    def refresh(self, request: HttpRequest, queryset: QuerySet[Federation]) -> None:
        for fed in queryset:
            try:
                federation.refresh(fed)
            except federation.RefreshFailed as exc:
                self.message_user(
                    request,
                    _("%(name)s: refused, the previous services stay: %(reason)s")
                    % {"name": fed.name, "reason": exc.message},
                    messages.ERROR,
                )
                continue
            self.message_user(
                request,
                ngettext(
                    "%(name)s: %(count)d service in the aggregate.",
                    "%(name)s: %(count)d services in the aggregate.",
                    fed.providers.count(),
                )
                % {"name": fed.name, "count": fed.providers.count()},
                messages.SUCCESS,
            )
