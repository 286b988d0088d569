"""Post/redirect/get in the tests: a failed POST is a 303 to its own page, whose GET shows
the failure (and answers with its 4xx)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.test import Client


def failed_post(client: Client, url: str, data: Any = None, *, to: str | None = None) -> Any:
    """POST ``data`` to ``url``; assert it redirects (303) to ``to`` (default: ``url``) with a
    failure ticket, and return that GET."""
    posted = client.post(url, data or {})
    assert posted.status_code == 303, posted.status_code
    location = urlsplit(posted["Location"])
    assert location.path == urlsplit(to or url).path, posted["Location"]
    assert "failed=" in location.query, posted["Location"]
    return client.get(posted["Location"])
