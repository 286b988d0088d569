"""RADIUS clients in the admin site; the shared secret is written, never shown."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from vahva import clock

from .clients import MIN_SECRET, InvalidClient, check_approve_only, parse_addresses
from .models import RadiusClient


class RadiusClientForm(forms.ModelForm):  # type: ignore[type-arg]
    secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text=f"At least {MIN_SECRET} characters. Leave empty to keep the current one.",
    )
    addresses = forms.CharField(
        help_text="Addresses or CIDR blocks the client sends from, separated by spaces."
    )

    class Meta:
        model = RadiusClient
        fields = [
            "name",
            "addresses",
            "secret",
            "service",
            "mfa_rule",
            "prompt",
            "appended_codes",
            "approve_only",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["addresses"] = " ".join(self.instance.addresses)
            self.initial["secret"] = ""

    def clean_addresses(self) -> list[str]:
        try:
            return [str(net) for net in parse_addresses(self.cleaned_data["addresses"].split())]
        except InvalidClient as exc:
            raise ValidationError(str(exc)) from None

    def clean_secret(self) -> str:
        secret = str(self.cleaned_data.get("secret") or "")
        if not secret and self.instance.pk:
            return str(self.instance.secret)
        if len(secret.encode()) < MIN_SECRET:
            raise ValidationError(f"The shared secret must be at least {MIN_SECRET} characters.")
        return secret

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        try:
            check_approve_only(
                prompt=str(cleaned.get("prompt") or ""),
                approve_only=bool(cleaned.get("approve_only")),
            )
        except InvalidClient as exc:
            raise ValidationError({"approve_only": str(exc)}) from None
        return cleaned


@admin.register(RadiusClient)
class RadiusClientAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = RadiusClientForm
    list_display = [
        "name",
        "service",
        "mfa_rule",
        "prompt",
        "appended_codes",
        "approve_only",
        "created_at",
    ]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if obj.created_at is None:
            obj.created_at = clock.now()
        super().save_model(request, obj, form, change)
