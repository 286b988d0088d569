"""Session fixation and passwords as typed (ASVS 7.2.4, 6.2.8, 6.2.9)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.helpers import code_for, sign_in_password

pytestmark = pytest.mark.django_db


def session_key(client: Client) -> str:
    return str(client.cookies[settings.SESSION_COOKIE_NAME].value)


def test_a_new_session_key_after_each_step_of_signing_in(
    alice_totp: tuple[Any, str], client: Client, clock: Any
) -> None:
    # An attacker who planted a session cookie before the sign-in learns nothing from it.
    client.get("/help/")
    sign_in_password(client)  # the attempt lives in a session from here
    planted = session_key(client)
    client.post("/signin/verify/", {"code": code_for(alice_totp[1], clock)})
    assert session_key(client) != planted
    assert client.get("/security-info/").status_code == 200
    stale = Client()
    stale.cookies[settings.SESSION_COOKIE_NAME] = planted
    assert stale.get("/security-info/").status_code == 302


@pytest.mark.parametrize(
    "password",
    [
        "  spaces around are part of it  ",  # not stripped (6.2.9)
        "ünïcödé and emoji 🔐 too",
        "x" * 128,  # long passphrases work (6.2.9: at least 64 characters)
    ],
)
def test_passwords_are_taken_exactly_as_typed(
    make_user: Any, client: Client, clock: Any, password: str
) -> None:
    make_user("pat@example.org", password=password)
    assert sign_in_password(client, "pat@example.org", password.strip() + "!").status_code == 400
    assert sign_in_password(client, "pat@example.org", password).status_code == 302
