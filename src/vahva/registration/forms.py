from __future__ import annotations

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
