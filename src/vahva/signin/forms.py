from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from vahva.directory.service import current_config
from vahva.methods.base import CEREMONY_NOT_UNDERSTOOD, MAX_CEREMONY_ANSWER
from vahva.web import widgets


class PasswordForm(forms.Form):
    email = forms.CharField(
        label=_("E-mail address"),
        max_length=254,
        widget=widgets.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
        error_messages={"required": _("Enter your e-mail address.")},
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=4096,
        strip=False,
        widget=widgets.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": _("Enter your password.")},
    )
    next = forms.CharField(required=False, widget=widgets.HiddenInput, max_length=2000)

    def clean_email(self) -> str:
        email = str(self.cleaned_data["email"]).strip()
        # With a directory, its own user names (uid, sAMAccountName) work as well.
        if ("@" not in email and not current_config().enabled) or len(email) < 3:
            raise forms.ValidationError(
                _("Enter your e-mail address, for example name@example.org.")
            )
        return email


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=widgets.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "pattern": r"[0-9 \-]*",
                "size": 8,
            }
        ),
        error_messages={"required": _("Enter the code.")},
    )

    def letters(self) -> CodeForm:
        """The field for a code with letters (a temporary access pass): no number pad."""
        attrs = self.fields["code"].widget.attrs
        attrs.pop("pattern", None)
        attrs.update({"inputmode": "text", "autocapitalize": "characters", "spellcheck": "false"})
        return self


class ConfirmPasswordForm(forms.Form):
    password = forms.CharField(
        label=_("Password"),
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
        error_messages={"required": _("Enter your password.")},
    )


class CredentialForm(forms.Form):
    """The browser's answer to a security key or passkey prompt: WebAuthn JSON that the
    page's script puts here, never typed."""

    code = forms.CharField(
        max_length=MAX_CEREMONY_ANSWER,
        strip=False,
        widget=forms.HiddenInput,
        error_messages={
            "required": _("Use your security key or passkey first: choose the button above."),
            "max_length": CEREMONY_NOT_UNDERSTOOD,
        },
    )


class EnrolCredentialForm(CredentialForm):
    """Adding a security key or passkey: the browser's answer and the name the person gives."""

    name = forms.CharField(
        label=_("Name (optional)"),
        help_text=_('For example "YubiKey" or "Laptop fingerprint", so you can tell them apart.'),
        max_length=100,
        required=False,
    )
