"""What a wrong or hostile request gets: a SCIM error (RFC 7644 §3.12), never a 500, and
nothing half-saved."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import CORE_USER, SCIM_JSON, Scim, bjensen, scim_error

pytestmark = pytest.mark.django_db


def _people() -> int:
    from vahva.accounts.models import User

    return User.objects.count()


@pytest.mark.parametrize(
    "token", ["", "nope", "0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]
)
def test_a_missing_or_wrong_token_is_401_with_the_bearer_scheme(scim: Scim, token: str) -> None:
    for response in (
        scim.get("/Users", token=token),
        scim.post("/Users", bjensen(), token=token),
        scim.get("/ServiceProviderConfig", token=token),
    ):
        scim_error(response, 401)
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert _people() == 0


def test_a_token_sent_as_basic_auth_is_refused(scim: Scim) -> None:
    response = scim.client.get("/scim/v2/Users", headers={"Authorization": f"Basic {scim.token}"})

    scim_error(response, 401)


def test_a_revoked_token_stops_working_at_once(scim: Scim) -> None:
    from vahva.scim import tokens

    assert scim.get("/Users").status_code == 200
    assert tokens.revoke("Entra ID")

    scim_error(scim.get("/Users"), 401)
    scim_error(scim.post("/Users", bjensen()), 401)
    assert _people() == 0


def test_a_token_only_works_for_scim(scim: Scim, alice: Any) -> None:
    # The provisioning token is no key to the validation API (another room's clients).
    response = scim.client.post(
        "/api/validate/v1/check",
        data=json.dumps({"user": "alice@example.org", "code": "123456"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {scim.token}"},
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b"[1, 2]", b'{"schemas": ', b"\xff\xfe", b"null", b'"bjensen"'],
)
def test_malformed_json_is_400(scim: Scim, raw: bytes) -> None:
    scim_error(scim.post("/Users", raw=raw), 400, "invalidSyntax")
    assert _people() == 0


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ({"schemas": [CORE_USER]}, "invalidValue"),  # userName is required
        ({"schemas": [CORE_USER], "userName": 42}, "invalidValue"),
        ({"schemas": [CORE_USER], "userName": "x", "active": "maybe"}, "invalidValue"),
        ({"schemas": [CORE_USER], "userName": "x", "emails": "x@example.org"}, "invalidValue"),
        (
            {"schemas": [CORE_USER], "userName": "x", "emails": [{"value": "not an address"}]},
            "invalidValue",
        ),
        ({"schemas": [CORE_USER], "userName": "x" * 300}, "invalidValue"),
        ({"schemas": ["urn:example:not-a-schema"], "userName": "x"}, "invalidSyntax"),
    ],
)
def test_wrong_types_and_values_are_400(scim: Scim, body: dict[str, Any], scim_type: str) -> None:
    scim_error(scim.post("/Users", body), 400, scim_type)
    assert _people() == 0


def test_an_unknown_attribute_is_refused(scim: Scim) -> None:
    response = scim.post("/Users", {"schemas": [CORE_USER], "userName": "x", "shoeSize": 44})

    assert response.status_code == 400, response.content
    assert _people() == 0


def test_a_patch_of_an_unknown_attribute_changes_nothing(scim: Scim) -> None:
    created = scim.post("/Users", bjensen()).json()

    response = scim.patch(
        f"/Users/{created['id']}",
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "replace", "path": "shoeSize", "value": 44},
    )

    assert response.status_code == 400, response.content
    assert response.json()["scimType"] in {"invalidPath", "noTarget"}
    # The first operation was valid, but the request is one: none of it is applied.
    assert scim.get(f"/Users/{created['id']}").json()["displayName"] == "Babs Jensen"


def test_a_failing_write_leaves_nothing_half_saved(scim: Scim) -> None:
    first = scim.post("/Users", bjensen()).json()
    other = scim.post(
        "/Users", bjensen(userName="other", emails=[{"value": "other@example.com"}], externalId="2")
    ).json()

    # Taking someone else's address: refused, and no part of the replacement is kept.
    response = scim.put(
        f"/Users/{other['id']}",
        bjensen(userName="other", displayName="Changed", emails=[{"value": "bjensen@example.com"}]),
    )

    scim_error(response, 409, "uniqueness")
    assert scim.get(f"/Users/{other['id']}").json() == other
    assert scim.get(f"/Users/{first['id']}").json() == first


def test_a_huge_body_is_413_before_it_is_parsed(scim: Scim, settings: Any) -> None:
    settings.VAHVA = {**getattr(settings, "VAHVA", {}), "SCIM_MAX_BODY": 10_000}
    body = bjensen(displayName="x" * 20_000)

    response = scim.post("/Users", body)

    assert response.status_code == 413, response.content
    assert response.json()["status"] == "413"
    assert _people() == 0


def test_a_body_past_djangos_own_limit_is_413_too(scim: Scim) -> None:
    response = scim.post("/Users", raw=b"{" + b" " * (3 * 1024 * 1024) + b"}")

    assert response.status_code == 413


def test_plain_json_is_accepted_and_scim_json_returned(scim: Scim) -> None:
    response = scim.post("/Users", bjensen(), content_type="application/json")

    assert response.status_code == 201
    assert response["Content-Type"] == SCIM_JSON


def test_a_body_that_is_not_json_is_415(scim: Scim) -> None:
    response = scim.post(
        "/Users", raw=b"userName=x", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert _people() == 0


def test_unknown_things_are_404_and_wrong_methods_405(scim: Scim) -> None:
    scim_error(scim.get("/Users/00000000-0000-0000-0000-000000000000"), 404)
    scim_error(scim.get("/Users/not-even-a-uuid"), 404)
    scim_error(scim.get("/Devices"), 404)
    not_allowed = scim.post("/ServiceProviderConfig", {})
    scim_error(not_allowed, 405)
    assert "GET" in not_allowed["Allow"]
    scim_error(
        scim.post(
            "/Bulk",
            {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": []},
        ),
        501,
    )


def test_a_nul_byte_is_refused_as_scim(scim: Scim) -> None:
    response = scim.post("/Users", raw=b'{"userName": "a\\u0000b"}')

    scim_error(response, 400, "invalidValue")
    assert _people() == 0


def test_no_cookie_is_set(scim: Scim) -> None:
    response = scim.post("/Users", bjensen())

    assert response.status_code == 201
    assert not response.cookies
