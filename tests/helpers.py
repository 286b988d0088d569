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


def force_mfa_login(client: Client, user: Any, *, method: str = "totp") -> None:
    """Sign ``user`` in as vahva's sign-in would after a password and a second factor (with
    a registered authenticator app, so the door finds the person registered)."""
    import datetime as dt

    from vahva import clock
    from vahva.methods import service
    from vahva.methods.totp import generate_secret
    from vahva.signin.requirements import SESSION_AUTH

    if not service.has_methods(user):
        service.save_new(
            user, "totp", now=clock.now() - dt.timedelta(days=1), secret=generate_secret()
        )
    client.force_login(user)
    session = client.session
    session[SESSION_AUTH] = {
        "at": clock.now().timestamp(),
        "amr": ["mfa", "otp", "pwd"],
        "method": method,
    }
    session.save()


def sign_in_with_code(client: Client, user: Any, clock: Any, **extra: Any) -> Any:
    """Sign ``user`` in through the pages with the password and an authenticator-app code
    (registered a day ago when the person has none); returns the verify page's response."""
    import datetime as dt

    from vahva.methods import service
    from vahva.methods.totp import generate_secret

    secret = generate_secret()
    service.save_new(user, "totp", now=clock() - dt.timedelta(days=1), secret=secret)
    password = sign_in_password(client, user.email, **extra)
    assert password.status_code == 302, password
    assert password["Location"] == "/signin/verify/", password["Location"]
    return client.post("/signin/verify/", {"code": code_for(secret, clock)})
