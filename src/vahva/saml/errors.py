"""What can be wrong with a SAML message, each with the page status and a plain message.

Errors the service cannot be told about (we do not know or trust where to answer) end at
vahva's own error page, 4xx, with an audit row. Errors that the service can be told about
once its request and ACS address have been verified are SAML statuses (:class:`StatusError`).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from saml2 import samlp


class SamlError(Exception):
    """A request that cannot be answered at all; shown as vahva's error page."""

    status = 400
    title = _("This sign-in request cannot be used")
    message = _("Go back to the service and try again. If this keeps happening, tell the helpdesk.")

    def __init__(self, reason: str, service: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        #: The service's entity id, once known (for the audit row).
        self.service = service


class MalformedMessage(SamlError):
    """Not base64, not deflate, not XML, not an AuthnRequest."""


class TooLarge(SamlError):
    status = 413


class ForbiddenXml(SamlError):
    """A DTD, entities or external references (XML bombs, XXE)."""


class UnknownService(SamlError):
    title = _("Unknown service")
    message = _("This service is not connected to the sign-in service. Tell the helpdesk.")


class BadSignature(SamlError):
    status = 403


class UnknownAcs(SamlError):
    """The AssertionConsumerServiceURL (or index) is not in the service's metadata."""


class Replayed(SamlError):
    """A request id this service already used."""


class Expired(SamlError):
    """Its IssueInstant is too old or in the future, or the stored request ran out."""

    title = _("This sign-in request has expired")
    message = _("Go back to the service and sign in again.")


class StatusError(Exception):
    """Answered to the service's ACS as a SAML error status (SAML Core §3.2.2.2)."""

    def __init__(self, second_level: str, message: str) -> None:
        super().__init__(message)
        self.second_level = second_level
        self.message = message


def no_authn_context(message: str) -> StatusError:
    return StatusError(samlp.STATUS_NO_AUTHN_CONTEXT, message)


def no_passive(message: str) -> StatusError:
    return StatusError(samlp.STATUS_NO_PASSIVE, message)


def invalid_name_id_policy(message: str) -> StatusError:
    return StatusError(samlp.STATUS_INVALID_NAMEID_POLICY, message)


def unsupported_binding(message: str) -> StatusError:
    return StatusError(samlp.STATUS_UNSUPPORTED_BINDING, message)
