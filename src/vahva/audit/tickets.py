"""Helpdesk ticket numbers: every helpdesk action is done for one, and the audit log shows it."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from vahva.errors import MalformedInput

TICKET_MAX = 64


def clean_ticket(ticket: str) -> str:
    """The helpdesk ticket number an action is done for (the audit trail needs it)."""
    text = (ticket or "").strip()
    if not text:
        raise MalformedInput(_("Enter the helpdesk ticket number."))
    if len(text) > TICKET_MAX or not text.isprintable():
        # Log injection: no newlines or control characters in what the audit log shows.
        raise MalformedInput(
            _("A ticket number is at most %(count)d characters on one line.")
            % {"count": TICKET_MAX}
        )
    return text
