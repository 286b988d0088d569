from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from vahva.methods import registry


class EnrolCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Enter the 6-digit code shown in the app"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8}
        ),
        error_messages={"required": _("Enter the code.")},
    )
    name = forms.CharField(
        label=_("Name (optional)"),
        help_text=_('For example "Work phone", so you can tell your methods apart.'),
        max_length=100,
        required=False,
    )


class ChooseMethodForm(forms.Form):
    kind = forms.ChoiceField(label=_("Which method would you like to add?"), choices=())

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["kind"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(m.kind, m.label) for m in registry.enrolable()]
        field.error_messages["invalid_choice"] = _("Choose one of the methods in the list.")
        field.error_messages["required"] = _("Choose a method.")


class NewPasswordForm(forms.Form):
    """The new password, twice; Django's validators run in the service (they need the user)."""

    new = forms.CharField(
        label=_("New password"),
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        error_messages={"required": _("Enter a new password.")},
    )
    again = forms.CharField(
        label=_("New password again"),
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        error_messages={"required": _("Enter the new password again.")},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new") and data.get("again") and data["new"] != data["again"]:
            self.add_error("again", _("The two passwords are not the same."))
        return data


class ChangePasswordForm(NewPasswordForm):
    current = forms.CharField(
        label=_("Current password"),
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
        error_messages={"required": _("Enter your current password.")},
    )
    field_order = ["current", "new", "again"]


class ForgotPasswordForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
        error_messages={
            "required": _("Enter your e-mail address."),
            "invalid": _("Enter your e-mail address, for example name@example.org."),
        },
    )
