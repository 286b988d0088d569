"""The feedback form: a message, optional contact details, and a field only robots fill."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from .models import MESSAGE_MAX

#: A phone number as people type it: digits, spaces and the usual punctuation, 5 to 15 digits.
_PHONE = re.compile(r"\+?[0-9 ().\-/]{5,24}")


class FeedbackForm(forms.Form):
    prefix = "feedback"

    message = forms.CharField(
        label=_("Your feedback"),
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 60}),
        help_text=_(
            "Send only feedback about signing in here; for other IT problems contact the helpdesk."
        ),
        error_messages={
            "required": _("Write your feedback first."),
            "max_length": _(
                "Feedback can be at most %(limit_value)d characters long (it has %(show_value)d)."
            ),
        },
    )
    name = forms.CharField(
        label=_("Your name (optional)"),
        required=False,
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
        error_messages={"max_length": _("A name can be at most %(limit_value)d characters long.")},
    )
    contact = forms.CharField(
        label=_("E-mail address or phone number (optional)"),
        required=False,
        max_length=254,
        help_text=_(
            "Contact details are used only if we need to ask you more about your feedback."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "email"}),
        error_messages={
            "max_length": _("Contact details can be at most %(limit_value)d characters long.")
        },
    )
    # Spam: a field people leave empty (its label says so, for screen readers too) and that
    # is off screen for everyone else; form-filling robots fill every field they find.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def clean_contact(self) -> str:
        contact = str(self.cleaned_data["contact"]).strip()
        if not contact:
            return ""
        if "@" in contact:
            try:
                validate_email(contact)
            except ValidationError:
                raise ValidationError(
                    _("Enter an e-mail address like name@example.org, or leave this empty.")
                ) from None
            return contact
        if not _PHONE.fullmatch(contact) or not 5 <= sum(c.isdigit() for c in contact) <= 15:
            raise ValidationError(
                _(
                    "Enter an e-mail address or a phone number like +358 40 1234567, "
                    "or leave this empty."
                )
            )
        return contact

    def is_spam(self) -> bool:
        """Whether the robots' field was filled (call after is_valid())."""
        return bool(self.cleaned_data.get("website"))
