"""/ServiceProviderConfig, /ResourceTypes and /Schemas say what vahva does."""

from __future__ import annotations

import pytest

from .conftest import CORE_GROUP, CORE_USER, ENTERPRISE, SCIM_JSON, Scim

pytestmark = pytest.mark.django_db


def test_service_provider_config_announces_what_works(scim: Scim) -> None:
    response = scim.get("/ServiceProviderConfig")

    assert response.status_code == 200
    assert response["Content-Type"] == SCIM_JSON
    config = response.json()
    assert config["patch"] == {"supported": True}
    assert config["filter"] == {"supported": True, "maxResults": 200}
    assert config["etag"] == {"supported": True}
    assert config["bulk"]["supported"] is False
    assert config["sort"] == {"supported": False}
    assert config["changePassword"] == {"supported": False}
    assert [s["type"] for s in config["authenticationSchemes"]] == ["oauthbearertoken"]


def test_resource_types_are_users_with_the_enterprise_extension_and_groups(scim: Scim) -> None:
    body = scim.get("/ResourceTypes").json()

    by_name = {rt["name"]: rt for rt in body["Resources"]}
    assert by_name["User"]["endpoint"] == "/Users"
    assert by_name["User"]["schema"] == CORE_USER
    assert by_name["User"]["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    assert by_name["Group"]["schema"] == CORE_GROUP


def test_schemas_describe_the_attributes(scim: Scim) -> None:
    ids = {schema["id"] for schema in scim.get("/Schemas").json()["Resources"]}
    assert {CORE_USER, ENTERPRISE, CORE_GROUP} <= ids

    enterprise = scim.get(f"/Schemas/{ENTERPRISE}").json()
    assert "employeeNumber" in {attribute["name"] for attribute in enterprise["attributes"]}
