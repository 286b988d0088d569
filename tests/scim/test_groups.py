"""Groups: kept with their members; a group named in SCIM_GROUP_ROLES gives a role."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import CORE_GROUP, Scim, bjensen, scim_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def roles(settings: Any) -> None:
    settings.VAHVA = {
        **getattr(settings, "VAHVA", {}),
        "SCIM_GROUP_ROLES": {"IT Helpdesk": "helpdesk", "Sign-in admins": "admin"},
    }


def _group(name: str, *member_ids: str) -> dict[str, Any]:
    return {
        "schemas": [CORE_GROUP],
        "displayName": name,
        "members": [{"value": member, "type": "User"} for member in member_ids],
    }


def _babs() -> Any:
    from vahva.accounts.models import User

    return User.objects.get(email="bjensen@example.com")


def _actions() -> list[str]:
    from vahva.audit.models import AuditEvent

    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_a_group_is_kept_with_its_members(scim: Scim) -> None:
    babs = scim.post("/Users", bjensen()).json()

    response = scim.post("/Groups", _group("Tour Guides", babs["id"]))

    assert response.status_code == 201, response.content
    group = response.json()
    assert [m["value"] for m in group["members"]] == [babs["id"]]
    assert group["members"][0]["$ref"].endswith(f"/scim/v2/Users/{babs['id']}")
    assert scim.get(f"/Groups/{group['id']}").json() == group
    # The person's groups attribute (read-only) shows it.
    assert [g["display"] for g in scim.get(f"/Users/{babs['id']}").json()["groups"]] == [
        "Tour Guides"
    ]
    person = _babs()
    assert not person.is_staff  # no role for an unmapped group
    assert "scim.group_created" in _actions()


def test_filter_groups_by_display_name(scim: Scim) -> None:
    scim.post("/Groups", _group("Tour Guides"))
    scim.post("/Groups", _group("Drivers"))

    found = scim.get("/Groups", query={"filter": 'displayName eq "tour guides"'}).json()

    assert [g["displayName"] for g in found["Resources"]] == ["Tour Guides"]


def test_a_helpdesk_group_gives_staff_and_the_helpdesk_permission(scim: Scim, roles: None) -> None:
    babs = scim.post("/Users", bjensen()).json()
    group = scim.post("/Groups", _group("IT Helpdesk", babs["id"])).json()

    person = _babs()
    assert person.is_staff
    assert person.has_perm("helpdesk.access")
    assert not person.is_superuser
    assert "scim.role_granted" in _actions()

    response = scim.patch(
        f"/Groups/{group['id']}", {"op": "remove", "path": f'members[value eq "{babs["id"]}"]'}
    )

    assert response.status_code == 200, response.content
    person = _babs()
    assert not person.is_staff
    assert not person.has_perm("helpdesk.access")
    assert "scim.role_revoked" in _actions()


def test_an_admin_group_gives_superuser_and_deleting_it_takes_it_away(
    scim: Scim, roles: None
) -> None:
    babs = scim.post("/Users", bjensen()).json()
    group = scim.post("/Groups", _group("sign-in ADMINS", babs["id"])).json()
    assert _babs().is_superuser
    assert _babs().is_staff

    assert scim.delete(f"/Groups/{group['id']}").status_code == 204

    assert not _babs().is_superuser
    assert not _babs().is_staff
    scim_error(scim.get(f"/Groups/{group['id']}"), 404)


def test_renaming_a_group_into_a_role_grants_it(scim: Scim, roles: None) -> None:
    babs = scim.post("/Users", bjensen()).json()
    group = scim.post("/Groups", _group("Tour Guides", babs["id"])).json()

    scim.patch(
        f"/Groups/{group['id']}", {"op": "replace", "path": "displayName", "value": "IT Helpdesk"}
    )

    assert _babs().has_perm("helpdesk.access")


def test_a_deleted_person_leaves_their_groups_and_roles(scim: Scim, roles: None) -> None:
    babs = scim.post("/Users", bjensen()).json()
    group = scim.post("/Groups", _group("IT Helpdesk", babs["id"])).json()

    scim.delete(f"/Users/{babs['id']}")

    assert not _babs().has_perm("helpdesk.access")
    assert "members" not in scim.get(f"/Groups/{group['id']}").json()


def test_an_unknown_member_is_refused_and_nothing_saved(scim: Scim) -> None:
    from vahva.scim.models import ScimGroup

    response = scim.post("/Groups", _group("Ghosts", "00000000-0000-0000-0000-000000000001"))

    scim_error(response, 400, "invalidValue")
    assert not ScimGroup.objects.exists()


def test_a_local_superuser_cannot_be_made_a_member(scim: Scim, make_user: Any) -> None:
    root = make_user("root@example.org", is_superuser=True, is_staff=True)

    scim_error(scim.post("/Groups", _group("Admins", str(root.public_id))), 400, "invalidValue")


def test_a_group_needs_a_name(scim: Scim) -> None:
    response = scim.post("/Groups", {"schemas": [CORE_GROUP], "displayName": "  "})

    assert response.status_code == 400
