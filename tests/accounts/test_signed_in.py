"""``signed_in(request)``: the typed person of a view behind ``login_required``, failing closed."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from vahva.accounts.models import signed_in


def test_the_signed_in_person_is_returned(alice: Any) -> None:
    request = RequestFactory().get("/")
    request.user = alice
    assert signed_in(request) == alice


def test_nobody_signed_in_is_refused_not_passed_on() -> None:
    # A view that forgot login_required must not hand AnonymousUser to the methods room.
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    with pytest.raises(PermissionDenied):
        signed_in(request)
