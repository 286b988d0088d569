"""Fixtures: a provisioning client's token, and ``scim``, a Django test client that speaks SCIM."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

BASE = "/scim/v2"
SCIM_JSON = "application/scim+json"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def token(db: Any) -> str:
    from vahva.scim import tokens

    return tokens.add("Entra ID").token


@dataclass
class Scim:
    client: Client
    token: str

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        token: str | None = None,
        content_type: str = SCIM_JSON,
        **headers: str,
    ) -> Any:
        if token is None:
            token = self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        return getattr(self.client, method.lower())(
            BASE + path, data=data, content_type=content_type, headers=headers
        )

    def get(self, path: str, **kw: Any) -> Any:
        if "query" in kw:
            from urllib.parse import urlencode

            path = f"{path}?{urlencode(kw.pop('query'))}"
        return self.client.get(
            BASE + path, headers={"Authorization": f"Bearer {kw.pop('token', self.token)}", **kw}
        )

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("PUT", path, body, **kw)

    def patch(self, path: str, *operations: dict[str, Any], **kw: Any) -> Any:
        return self.call(
            "PATCH", path, {"schemas": [PATCH_OP], "Operations": list(operations)}, **kw
        )

    def delete(self, path: str, **kw: Any) -> Any:
        return self.call("DELETE", path, **kw)

    def create_user(self, user_name: str = "bjensen", **attributes: Any) -> dict[str, Any]:
        body = {"schemas": [CORE_USER], "userName": user_name, **attributes}
        response = self.post("/Users", body)
        assert response.status_code == 201, response.content
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def scim(token: str) -> Scim:
    return Scim(Client(), token)


def scim_error(response: Any, status: int, scim_type: str | None = None) -> dict[str, Any]:
    """The SCIM error body (RFC 7644 §3.12), after checking its status and scimType."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(SCIM_JSON)
    body: dict[str, Any] = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type, body
    return body


def bjensen(**extra: Any) -> dict[str, Any]:
    """RFC 7643 §8.2's Babs Jensen, as an identity system sends her."""
    return {
        "schemas": [CORE_USER, ENTERPRISE],
        "userName": "bjensen",
        "externalId": "701984",
        "name": {
            "givenName": "Barbara",
            "familyName": "Jensen",
            "formatted": "Ms. Barbara J Jensen III",
        },
        "displayName": "Babs Jensen",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        "phoneNumbers": [
            {"value": "+358 40 123 4567", "type": "mobile"},
            {"value": "+358 9 555 0100", "type": "work"},
        ],
        "active": True,
        ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations"},
        **extra,
    }
