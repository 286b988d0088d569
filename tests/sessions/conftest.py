"""Browsers of one person: Django test clients with their own cookies, agent and address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.helpers import sign_in_password
from tests.oidc.conftest import mail  # noqa: F401 (the "Mail" service fixture)

CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def new_browser(alice: Any, clock: Any) -> Callable[..., Client]:
    """A new browser that signs alice in with her password (she has no method yet, and put
    registering off: services let her in with the password)."""
    from vahva.registration import campaign

    campaign.snooze(alice, now=clock())

    def make(agent: str = CHROME_LINUX, ip: str = "198.51.100.7", **extra: Any) -> Client:
        client = Client(HTTP_USER_AGENT=agent, REMOTE_ADDR=ip, **extra)
        response = sign_in_password(client)
        assert response.status_code == 302, response.content[:300]
        return client

    return make
