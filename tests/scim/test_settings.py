"""The SCIM settings are checked at start, like every VAHVA setting."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from vahva.conf import validate


@pytest.mark.parametrize(
    "roles",
    [{"IT Helpdesk": "root"}, {"": "helpdesk"}, ["helpdesk"], {"Admins": ["admin"]}],
)
def test_a_group_can_map_only_to_a_known_role(roles: Any) -> None:
    with pytest.raises(ImproperlyConfigured):
        validate({"SCIM_GROUP_ROLES": roles})


def test_known_roles_and_limits_are_accepted() -> None:
    merged = validate(
        {
            "SCIM_GROUP_ROLES": {"IT Helpdesk": "helpdesk", "Admins": "admin"},
            "SCIM_MAX_BODY": 65536,
            "SCIM_MAX_RESULTS": 50,
        }
    )
    assert merged["SCIM_GROUP_ROLES"] == {"IT Helpdesk": "helpdesk", "Admins": "admin"}


@pytest.mark.parametrize("name", ["SCIM_MAX_BODY", "SCIM_MAX_RESULTS"])
def test_limits_are_positive(name: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        validate({name: 0})
