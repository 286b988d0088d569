"""Random SCIM bodies and filters: a SCIM 4xx or success, never a 500, never a person half made."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import CORE_USER, ENTERPRISE, PATCH_OP, Scim

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NAMES = st.sampled_from(
    [
        "userName",
        "emails",
        "name",
        "active",
        "phoneNumbers",
        "externalId",
        "displayName",
        "schemas",
        "id",
        "meta",
        "groups",
        ENTERPRISE,
        "value",
        "primary",
        "members",
        "x",
    ]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(["\x00", "a@b.example", "' OR 1=1 --", "9" * 400]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(NAMES, inner, max_size=4)),
    max_leaves=12,
)


def _no_half_made_person() -> None:
    from vahva.accounts.models import User

    # Every person has the profile a successful create writes with them.
    assert not User.objects.filter(scim_profile__isnull=True).exists()


@FUZZ
@given(body=st.dictionaries(NAMES, values, max_size=6))
def test_random_users(scim: Scim, body: dict[str, Any]) -> None:
    response = scim.post("/Users", {"schemas": [CORE_USER], **body})

    assert response.status_code in {201, 400, 409}, response.content
    _no_half_made_person()


@FUZZ
@given(
    op=st.sampled_from(["add", "replace", "remove", "ADD", "move", ""]),
    path=st.one_of(st.none(), st.text(max_size=40), NAMES),
    value=values,
)
def test_random_patches(scim: Scim, op: str, path: str | None, value: Any) -> None:
    created = scim.create_user("fuzz", emails=[{"value": "fuzz@example.org", "primary": True}])
    operation: dict[str, Any] = {"op": op, "value": value}
    if path is not None:
        operation["path"] = path

    response = scim.call(
        "PATCH", f"/Users/{created['id']}", {"schemas": [PATCH_OP], "Operations": [operation]}
    )

    assert response.status_code in {200, 400, 409}, response.content
    scim.delete(f"/Users/{created['id']}")
    from vahva.accounts.models import User

    User.objects.all().delete()


@FUZZ
@given(scim_filter=st.text(max_size=80))
def test_random_filters(scim: Scim, scim_filter: str) -> None:
    response = scim.get("/Users", query={"filter": scim_filter})

    assert response.status_code in {200, 400}, response.content
    if response.status_code == 400:
        assert json.loads(response.content)["status"] == "400"
