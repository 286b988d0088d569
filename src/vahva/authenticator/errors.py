"""The device protocol's failures. Each has a stable ``code`` for programs (the app, the CLI)
and a message for people; the device API maps them once to a status and a JSON body."""

from __future__ import annotations

import datetime as dt
import math
from typing import ClassVar

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from vahva.errors import (
    AlreadyCompleted,
    ExpiredChallenge,
    InvalidCode,
    MalformedInput,
    RateLimited,
    VahvaError,
)
from vahva.jsonapi import error_code

#: Codes for vahva's general errors, when the device API meets them.
GENERAL_CODES: dict[type[VahvaError], str] = {
    MalformedInput: "malformed",
    InvalidCode: "invalid",
    ExpiredChallenge: "expired",
    AlreadyCompleted: "already_completed",
}


def code_of(exc: VahvaError) -> str:
    """The machine-readable code of ``exc``: its own, else its nearest general ancestor's."""
    return error_code(exc, GENERAL_CODES)


class BadSignature(VahvaError):
    status = 401
    code: ClassVar[str] = "bad_signature"
    default_message = _("The request's signature is not valid.")


class UnknownDevice(VahvaError):
    status = 401
    code: ClassVar[str] = "unknown_device"
    default_message = _("This device is not known here. Add the account to the app again.")


class StaleRequest(VahvaError):
    status = 401
    code: ClassVar[str] = "stale_request"
    default_message = _(
        "The request's time is too far from the server's time. Check the device's clock."
    )


class ReplayedRequest(VahvaError):
    status = 401
    code: ClassVar[str] = "replayed_request"
    default_message = _("This request was already received once.")


class DeviceRemoved(VahvaError):
    status = 403
    code: ClassVar[str] = "device_removed"
    default_message = _("This device was removed from the account. Add the account again.")


class BodyTooLarge(VahvaError):
    status = 413
    code: ClassVar[str] = "too_large"
    default_message = _("The request is too large.")


class UnknownChallenge(VahvaError):
    status = 404
    code: ClassVar[str] = "unknown_challenge"
    default_message = _("There is no such sign-in request for this device.")


class WrongNumber(InvalidCode):
    code: ClassVar[str] = "wrong_number"
    default_message = _("That is not the number shown on the sign-in page. Check it and try again.")


class AlreadyAnswered(AlreadyCompleted):
    code: ClassVar[str] = "already_answered"
    default_message = _("This request was already answered, perhaps on another device.")


class PushExpired(ExpiredChallenge):
    code: ClassVar[str] = "expired"
    default_message = _("We didn't hear from you in time. Send another request.")


class PushPending(VahvaError):
    status = 409
    code: ClassVar[str] = "pending"
    default_message = _("We're still waiting for your answer in the app.")


class PushDenied(VahvaError):
    status = 403
    code: ClassVar[str] = "denied"
    default_message = _("Request denied")


class NoDevice(VahvaError):
    status = 409
    code: ClassVar[str] = "no_device"
    default_message = _("No device can receive the request. Sign in another way.")


class EnrolmentLinkInvalid(ExpiredChallenge):
    code: ClassVar[str] = "enrolment_expired"
    default_message = _(
        "This link has expired or has already been used. Show a new QR code on the computer."
    )


class EndpointNotAllowed(MalformedInput):
    code: ClassVar[str] = "endpoint_not_allowed"
    default_message = _(
        "The push subscription's address is not allowed: it must be https on a public host."
    )


class PushHeld(VahvaError):
    status = 403
    code: ClassVar[str] = "held"
    default_message = _(
        "Requests to your vahva app are paused because you reported one that was not yours. "
        "Sign in another way, or contact the helpdesk."
    )


# --- push bombing: the person's allowance of sign-in requests ------------------------------


class PushBusy(RateLimited):
    """A sign-in request is already waiting on the person's phone (another sign-in's)."""

    code: ClassVar[str] = "busy"

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            retry_after,
            _(
                "A sign-in request is already waiting on your phone. Try again in a moment, "
                "or sign in another way. If you did not start another sign-in, answer that "
                "request with Deny and report."
            ),
        )


class TooManyPushes(RateLimited):
    """The person's phone got its allowance of sign-in requests for the window."""

    code: ClassVar[str] = "too_many_pushes"

    def __init__(self, retry_after: float) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            retry_after,
            ngettext_lazy(
                "Too many sign-in requests were sent to your app. Try again in %(minutes)d "
                "minute, or sign in another way.",
                "Too many sign-in requests were sent to your app. Try again in %(minutes)d "
                "minutes, or sign in another way.",
                "minutes",
            )
            % {"minutes": minutes},
        )


class PushCoolingDown(RateLimited):
    """The person denied a sign-in request a moment ago: no approve-only request (one without
    number matching) is sent to them until the cool-down ends."""

    code: ClassVar[str] = "cooling_down"

    def __init__(self, retry_after: float) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            retry_after,
            ngettext_lazy(
                "You denied a sign-in request a moment ago, so no new one is sent for "
                "%(minutes)d minute. Try again then.",
                "You denied a sign-in request a moment ago, so no new one is sent for "
                "%(minutes)d minutes. Try again then.",
                "minutes",
            )
            % {"minutes": minutes},
        )


class PushPaused(VahvaError):
    """Sign-in requests to the person's app are paused after suspicious attempts; the
    sign-in asks for a typed code (the app's offline code, or another method) instead."""

    status = 403
    code: ClassVar[str] = "paused"
    default_message = _(
        "Sign-in requests to your app are paused because several recent ones were denied, "
        "reported or not answered. Enter the code shown in the vahva app, or sign in another way."
    )

    def __init__(self, until: dt.datetime) -> None:
        self.until = until
        super().__init__()
