"""Fixtures: a helpdesk agent and their browser session, people to help, phones."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.authenticator.device import TestDevice
from tests.helpers import force_mfa_login
from vahva.accounts.models import User
from vahva.authenticator.models import PushChallenge
from vahva.methods import registry


def grant_helpdesk(user: User) -> User:
    user.user_permissions.add(
        Permission.objects.get(codename="access", content_type__app_label="helpdesk")
    )
    # A fresh object: Django caches a user's permissions on the instance.
    return User.objects.get(pk=user.pk)


@pytest.fixture
def agent(make_user: Callable[..., Any]) -> User:
    """Staff with the helpdesk permission (and nothing else)."""
    return grant_helpdesk(make_user("agent@example.org", full_name="Helga Helpdesk", is_staff=True))


@pytest.fixture
def desk(agent: User) -> Client:
    """The agent's browser, signed in."""
    client = Client()
    force_mfa_login(client, agent)
    return client


def signed_in(user: User) -> Client:
    client = Client()
    force_mfa_login(client, user)
    return client


def number_of(challenge: dict[str, Any]) -> int:
    return int(PushChallenge.objects.get(pk=challenge["id"]).number)


@pytest.fixture
def make_phone(clock: Any) -> Callable[..., TestDevice]:
    """Enrol a phone for ``user`` through the device API and save its method, as the pages do."""

    def make(user: Any, name: str = "Alice's phone") -> TestDevice:
        method = registry.get("app_push")
        pending = method.start_enrolment(user, now=clock())
        phone = TestDevice(name=name)
        assert phone.enroll(pending.secret).status_code == 200
        (test,) = phone.challenges()
        assert phone.answer(test, "approve", number_of(test)).status_code == 200
        method.finish_enrolment(pending, uuid.UUID(test["id"]).hex, now=clock())
        return phone

    return make


@pytest.fixture
def phone(alice: Any, make_phone: Callable[..., TestDevice]) -> TestDevice:
    return make_phone(alice)
