"""The helpdesk's forms: every action carries the ticket it is done for."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from vahva import clock
from vahva.audit.tickets import TICKET_MAX, clean_ticket
from vahva.conf import settings
from vahva.errors import MalformedInput

#: What the pass form offers, in seconds (those above TAP_MAX_LIFETIME are left out).
PASS_LIFETIMES = (3600, 4 * 3600, 8 * 3600, 86400, 3 * 86400, 7 * 86400)
ONE_TIME = "one_time"
TIME_BOXED = "time_boxed"


def duration_text(seconds: int) -> str:
    if seconds % 86400 == 0:
        days = seconds // 86400
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    minutes = max(1, seconds // 60)
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Name or e-mail address"),
        max_length=254,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off", "autofocus": True}),
        error_messages={"max_length": _("Search with at most %(limit_value)d characters.")},
    )


class TicketForm(forms.Form):
    """An action that needs nothing but the ticket it is done for."""

    ticket = forms.CharField(
        label=_("Ticket number"),
        max_length=TICKET_MAX,
        help_text=_("The helpdesk ticket this is done for; it goes to the audit log."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 16}),
        error_messages={
            "required": _("Enter the helpdesk ticket number."),
            "max_length": _("A ticket number is at most %(limit_value)d characters."),
        },
    )

    def clean_ticket(self) -> str:
        try:
            return clean_ticket(self.cleaned_data["ticket"])
        except MalformedInput as exc:
            raise forms.ValidationError(str(exc.message)) from None


class PassForm(TicketForm):
    lifetime = forms.TypedChoiceField(
        label=_("Valid for"),
        coerce=int,
        choices=(),
        error_messages={"invalid_choice": _("Choose one of the times in the list.")},
    )
    use = forms.ChoiceField(
        label=_("Use"),
        widget=forms.RadioSelect,
        choices=(
            (ONE_TIME, _("Once: the pass ends when the person signs in with it")),
            (TIME_BOXED, _("Any number of times until it expires")),
        ),
        initial=ONE_TIME,
        error_messages={
            "required": _("Choose how often the pass may be used."),
            "invalid_choice": _("Choose how often the pass may be used."),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = int(settings.TAP_MAX_LIFETIME)
        default = int(settings.TAP_LIFETIME)
        offered = sorted({s for s in PASS_LIFETIMES if s <= limit} | {default})
        field = self.fields["lifetime"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(seconds, duration_text(seconds)) for seconds in offered]
        field.initial = default


class ExemptionForm(TicketForm):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        help_text=_("Why the person may sign in without a second factor for now."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={
            "required": _("An exemption needs a reason."),
            "max_length": _("Keep the reason to %(limit_value)d characters."),
        },
    )
    until = forms.DateField(
        label=_("Last day"),
        help_text=_("The exemption ends at the end of this day."),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": _("Give the exemption's last day."),
            "invalid": _("Give the last day as a date, for example 2026-03-31."),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        today = timezone.localtime(clock.now()).date()
        last = today + dt.timedelta(days=settings.EXEMPTION_MAX_DAYS - 1)
        self.fields["until"].widget.attrs.update(min=today.isoformat(), max=last.isoformat())

    def expires_at(self) -> dt.datetime:
        """The end of the chosen day, in this deployment's time zone."""
        day: dt.date = self.cleaned_data["until"]
        midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min)
        return timezone.make_aware(midnight, timezone.get_current_timezone())


# --- verifying a caller without the app ------------------------------------------------------


class CallerForm(TicketForm):
    """Start a check of one of the ways the person page lists (its value: method and id)."""

    way = forms.CharField(
        label=_("How to verify the caller"),
        max_length=80,
        error_messages={
            "required": _("Choose one of the ways listed to verify the caller."),
            "max_length": _("Choose one of the ways listed to verify the caller."),
        },
    )


class CallerCodeForm(forms.Form):
    code = forms.CharField(
        label=_("The code the caller read out"),
        max_length=64,
        # Recovery codes have letters: no number pad, no autocorrect, nothing remembered.
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
        error_messages={
            "required": _("Enter the code the caller read out."),
            "max_length": _("A code is at most %(limit_value)d characters."),
        },
    )


class ProcedureForm(TicketForm):
    confirmed = forms.BooleanField(
        label=_("I verified the caller this way"),
        error_messages={
            "required": _("Tick the box to confirm that you verified the caller this way."),
        },
    )
