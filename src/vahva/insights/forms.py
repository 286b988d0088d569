"""The sign-in log's filters, read from the query string."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .queries import ACTIONS, OUTCOMES, SignInFilter

_DATE_ERROR = _("Enter a date like 2026-03-02.")


class _DateInput(forms.DateInput):
    input_type = "date"


class SignInFilterForm(forms.Form):
    person = forms.CharField(
        label=_("Person (e-mail contains)"),
        required=False,
        max_length=254,
        error_messages={"max_length": _("Use at most %(limit_value)d characters.")},
    )
    outcome = forms.ChoiceField(
        label=_("Result"),
        required=False,
        choices=[("", _("Any")), *OUTCOMES.items()],
        error_messages={"invalid_choice": _("Choose a result from the list.")},
    )
    action = forms.ChoiceField(
        label=_("Event"),
        required=False,
        choices=[("", _("Any")), *ACTIONS.items()],
        error_messages={"invalid_choice": _("Choose an event from the list.")},
    )
    service = forms.CharField(
        label=_("Service"),
        required=False,
        max_length=200,
        error_messages={"max_length": _("Use at most %(limit_value)d characters.")},
    )
    reason = forms.CharField(
        label=_("Reason contains"),
        # The log shows each reason as a sentence; the filter reads the recorded one.
        help_text=_("Words of the reason as recorded, in English (as in the CSV export)."),
        required=False,
        max_length=300,
        error_messages={"max_length": _("Use at most %(limit_value)d characters.")},
    )
    date_from = forms.DateField(
        label=_("From"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=_DateInput(format="%Y-%m-%d"),
        error_messages={"invalid": _DATE_ERROR},
    )
    date_to = forms.DateField(
        label=_("To"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=_DateInput(format="%Y-%m-%d"),
        error_messages={"invalid": _DATE_ERROR},
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned

    def filters(self) -> SignInFilter:
        """The filters of a valid form."""
        data = self.cleaned_data
        return SignInFilter(
            person=data["person"].strip(),
            outcome=data["outcome"],
            action=data["action"],
            service=data["service"].strip(),
            reason=data["reason"].strip(),
            date_from=data["date_from"],
            date_to=data["date_to"],
        )
