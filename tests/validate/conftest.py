"""Fixtures: an API client's key, a way to post."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

CHECK = "/api/validate/v1/check"


@pytest.fixture
def api_key(db: Any) -> str:
    from vahva.validate import clients

    return clients.add("VPN gateway").key


Post = Callable[..., Any]


@pytest.fixture
def check(client: Client, api_key: str) -> Post:
    """POST a check with the gateway's key: ``check(user=..., code=...)``, ``check(raw=...)``."""

    def post(*, key: str | None = None, raw: bytes | None = None, **body: Any) -> Any:
        headers = {"Authorization": f"Bearer {key if key is not None else api_key}"}
        data = raw if raw is not None else json.dumps(body).encode()
        return client.post(CHECK, data=data, content_type="application/json", headers=headers)

    return post


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    """The refusal's JSON body, after checking its status and error code."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["error"] == code, body
    assert body["message"]
    return body
