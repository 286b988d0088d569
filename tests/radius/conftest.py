"""Bob, with an authenticator app registered an hour ago (the policy then asks for it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest

from vahva.clock import FakeClock


@dataclass(frozen=True)
class Person:
    user: Any
    email: str
    password: str
    secret: str

    def code(self, clock: FakeClock) -> str:
        return str(pyotp.TOTP(self.secret).at(clock()))


@pytest.fixture
def bob(transactional_db: Any, clock: FakeClock) -> Person:
    from vahva.accounts.models import User
    from vahva.methods import service
    from vahva.methods.totp import generate_secret

    secret = generate_secret()
    user = User.objects.create_user("bob@demo.example", "bob-demo-pass", full_name="Bob Berg")
    service.save_new(user, "totp", now=clock() - dt.timedelta(hours=1), secret=secret)
    return Person(user, "bob@demo.example", "bob-demo-pass", secret)
