"""Small helpers for driving vahva's pages with Django's test client."""

from __future__ import annotations

from typing import Any

import pyotp
from django.test import Client

PASSWORD = "correct horse battery"


def sign_in_password(
    client: Client, email: str = "alice@example.org", password: str = PASSWORD, **extra: Any
) -> Any:
    return client.post("/signin/", {"email": email, "password": password, **extra})


def code_for(secret: str, clock: Any, offset_steps: int = 0) -> str:
    return str(pyotp.TOTP(secret).at(clock(), counter_offset=offset_steps))


def text(response: Any) -> str:
    return response.content.decode()
