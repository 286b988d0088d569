"""The helpdesk's own failures (the shared ones are in :mod:`vahva.errors`)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from vahva.errors import VahvaError


class UnknownPerson(VahvaError):
    status = 404
    default_message = _("Nobody with that id was found. Search for the person again.")


class UnknownItem(VahvaError):
    """A method, device, exemption or check that is not this person's (or does not exist)."""

    status = 404
    default_message = _("That was not found for this person. It may have been removed already.")


class NotAllowed(VahvaError):
    status = 403
    default_message = _("The helpdesk cannot change this account.")
