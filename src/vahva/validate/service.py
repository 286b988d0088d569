"""Check a person's code for an API client: the sign-in's typed-code check
(:mod:`vahva.signin.codes`), with the person's own methods, throttle, single use and audit."""

from __future__ import annotations

from django.http import HttpRequest

from vahva.signin import codes
from vahva.signin.codes import Accepted

from .models import ApiClient

ACTION = "validate.check"

__all__ = ["ACTION", "Accepted", "check"]


def check(request: HttpRequest, client: ApiClient, *, email: str, code: str) -> Accepted:
    """Accept ``code`` for the person with ``email`` once, or raise a VahvaError (see
    :func:`vahva.signin.codes.check_code`)."""
    return codes.check_code(request, email=email, code=code, action=ACTION, client=client.name)
