"""Open a browser session for a person without walking through the sign-in pages.

The browser tests of the helpdesk pages are about those pages; how staff sign in (and the
second factor the policy asks of them) is the sign-in tests' business.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.test import Client
from playwright.sync_api import Page

from tests.helpers import force_mfa_login


def signed_in_as(page: Page, base_url: str, user: Any) -> None:
    client = Client()
    force_mfa_login(client, user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": base_url,
            }
        ]
    )
