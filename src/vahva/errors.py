"""Typed failures, each mapped once to an HTTP status and a message a person understands."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy


class VahvaError(Exception):
    """Base class: ``status`` is the HTTP status, ``message`` what the person reads."""

    status: int = 400
    default_message: str | Promise = _("Something was wrong with the request.")

    def __init__(self, message: str | Promise | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(str(self.message))


class MalformedInput(VahvaError):
    default_message = _("The request was not understood.")


class InvalidCode(VahvaError):
    default_message = _("That code is not right. Check the code and try again.")


class ReplayedCode(VahvaError):
    default_message = _(
        "That code has already been used. Wait for the next code and enter it instead."
    )


class ExpiredChallenge(VahvaError):
    status = 410
    default_message = _("This request has expired. Start again.")


class AlreadyCompleted(VahvaError):
    status = 409
    default_message = _("This step has already been completed, perhaps in another tab.")


class RateLimited(VahvaError):
    status = 429

    def __init__(self, retry_after: float, message: str | Promise | None = None) -> None:
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(
            message
            or ngettext_lazy(
                "Too many failed attempts. Try again in %(seconds)d second.",
                "Too many failed attempts. Try again in %(seconds)d seconds.",
                "seconds",
            )
            % {"seconds": self.retry_after}
        )


class Locked(VahvaError):
    status = 423
    default_message = _(
        "Too many failed attempts. Contact the helpdesk to unlock your sign-in methods."
    )
