"""Users over SCIM: create, read, replace, patch, delete (= deactivate), as a person sees it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.helpers import force_mfa_login
from vahva.scim.people import mobile_number

from .conftest import CORE_USER, ENTERPRISE, SCIM_JSON, Scim, bjensen, scim_error

pytestmark = pytest.mark.django_db


def _person(email: str) -> Any:
    from vahva.accounts.models import User

    return User.objects.get(email=email)


def _actions() -> list[str]:
    from vahva.audit.models import AuditEvent

    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_create_makes_a_person_without_a_local_password(scim: Scim) -> None:
    response = scim.post("/Users", bjensen())

    assert response.status_code == 201
    assert response["Content-Type"] == SCIM_JSON
    created = response.json()
    assert response["Location"] == created["meta"]["location"]
    assert created["meta"]["location"].endswith(f"/scim/v2/Users/{created['id']}")
    assert created["meta"]["version"].startswith('W/"')
    assert response["ETag"] == created["meta"]["version"]
    assert created["userName"] == "bjensen"
    assert created[ENTERPRISE] == {"employeeNumber": "701984", "department": "Tour Operations"}

    person = _person("bjensen@example.com")
    assert str(person.public_id) == created["id"]
    assert person.full_name == "Babs Jensen"
    assert person.is_active
    assert not person.has_usable_password()
    assert person.scim_profile.external_id == "701984"
    # The mobile number "in the system", for the setup wizard to offer.
    assert mobile_number(person) == "+358 40 123 4567"
    assert person.mobile_in_system == "+358 40 123 4567"


def test_create_is_audited_with_the_clients_name(scim: Scim) -> None:
    from vahva.audit.models import AuditEvent

    scim.post("/Users", bjensen())

    event = AuditEvent.objects.get(action="scim.user_created")
    assert event.subject_email == "bjensen@example.com"
    assert event.data["client"] == "Entra ID"


def test_get_returns_what_was_written(scim: Scim) -> None:
    created = scim.create_user(**{k: v for k, v in bjensen().items() if k != "userName"})

    response = scim.get(f"/Users/{created['id']}")

    assert response.status_code == 200
    assert response["Content-Type"] == SCIM_JSON
    assert response.json() == created


def test_a_person_without_an_address_gets_a_placeholder_nobody_can_receive_mail_at(
    scim: Scim,
) -> None:
    created = scim.create_user("mmouse")

    person = _person(f"{created['id']}@no-email.invalid")
    assert created["userName"] == "mmouse"
    assert "emails" not in created
    assert person.scim_profile.user_name == "mmouse"


def test_an_address_as_username_is_the_persons_address(scim: Scim) -> None:
    scim.create_user("Carol@Example.ORG")

    assert _person("carol@example.org").scim_profile.user_name == "Carol@Example.ORG"


def test_username_is_unique_whatever_the_case(scim: Scim) -> None:
    scim.create_user("bjensen")

    scim_error(
        scim.post("/Users", {"schemas": [CORE_USER], "userName": "BJensen"}), 409, "uniqueness"
    )


def test_an_address_already_someones_is_refused(scim: Scim, alice: Any) -> None:
    body = {
        "schemas": [CORE_USER],
        "userName": "alice2",
        "emails": [{"value": "alice@example.org"}],
    }

    scim_error(scim.post("/Users", body), 409, "uniqueness")
    assert _person("alice@example.org").full_name == "Alice"


def test_people_vahva_already_has_are_found_and_taken_over(scim: Scim, alice: Any) -> None:
    found = scim.get("/Users", query={"filter": 'userName eq "ALICE@example.org"'}).json()

    assert found["totalResults"] == 1
    (resource,) = found["Resources"]
    assert resource["id"] == str(alice.public_id)
    assert resource["emails"] == [{"value": "alice@example.org", "primary": True, "type": "work"}]

    response = scim.patch(
        f"/Users/{alice.public_id}",
        {"op": "replace", "path": "displayName", "value": "Alice Aalto"},
    )
    assert response.status_code == 200, response.content
    alice.refresh_from_db()
    assert alice.full_name == "Alice Aalto"
    # Her own password stays: provisioning changes who she is, not how she signs in.
    assert alice.check_password("correct horse battery")


def test_a_local_superuser_is_out_of_provisionings_reach(scim: Scim, make_user: Any) -> None:
    root = make_user("root@example.org", is_superuser=True, is_staff=True)

    assert (
        scim.get("/Users", query={"filter": 'userName eq "root@example.org"'}).json()[
            "totalResults"
        ]
        == 0
    )
    scim_error(scim.get(f"/Users/{root.public_id}"), 404)
    # Taking the break-glass account over by deactivating or renaming it: refused.
    scim_error(scim.delete(f"/Users/{root.public_id}"), 404)
    scim_error(
        scim.patch(f"/Users/{root.public_id}", {"op": "replace", "path": "active", "value": False}),
        404,
    )
    root.refresh_from_db()
    assert root.is_active


def test_replace_changes_the_person(scim: Scim) -> None:
    created = scim.create_user(**{k: v for k, v in bjensen().items() if k != "userName"})
    replacement = bjensen(
        displayName="Barbara Jensen",
        emails=[{"value": "barbara.jensen@example.com", "primary": True}],
        phoneNumbers=[{"value": "+358 50 765 4321", "type": "mobile"}],
    )

    response = scim.put(f"/Users/{created['id']}", replacement)

    assert response.status_code == 200, response.content
    assert response.json()["displayName"] == "Barbara Jensen"
    assert response.json()["meta"]["version"] != created["meta"]["version"]
    person = _person("barbara.jensen@example.com")
    assert (person.full_name, person.scim_profile.mobile) == ("Barbara Jensen", "+358 50 765 4321")
    assert "scim.user_updated" in _actions()


def test_patch_adds_replaces_and_removes(scim: Scim) -> None:
    created = scim.post("/Users", bjensen()).json()
    path = f"/Users/{created['id']}"

    response = scim.patch(
        path,
        {"op": "replace", "path": "name.givenName", "value": "Babs"},
        {"op": "add", "path": "title", "value": "Tour Guide"},
        {"op": "remove", "path": f"{ENTERPRISE}:department"},
        {"op": "remove", "path": 'phoneNumbers[type eq "mobile"]'},
    )

    assert response.status_code == 200, response.content
    patched = response.json()
    assert patched["name"]["givenName"] == "Babs"
    assert patched["title"] == "Tour Guide"
    assert patched[ENTERPRISE] == {"employeeNumber": "701984"}
    assert [p["type"] for p in patched["phoneNumbers"]] == ["work"]
    assert _person("bjensen@example.com").scim_profile.mobile == ""
    assert _person("bjensen@example.com").mobile_in_system == ""
    assert scim.get(path).json() == patched


def test_deactivating_ends_every_session(scim: Scim, clock: Any) -> None:
    created = scim.post("/Users", bjensen()).json()
    person = _person("bjensen@example.com")
    browser = Client()
    force_mfa_login(browser, person)
    assert browser.get("/security-info/").status_code == 200

    response = scim.patch(
        f"/Users/{created['id']}", {"op": "replace", "path": "active", "value": False}
    )

    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    person.refresh_from_db()
    assert not person.is_active
    assert browser.get("/security-info/")["Location"].startswith("/signin/")
    assert "scim.user_deactivated" in _actions()


def test_delete_deactivates_the_person_and_ends_their_sessions(scim: Scim, clock: Any) -> None:
    created = scim.post("/Users", bjensen()).json()
    person = _person("bjensen@example.com")
    browser = Client()
    force_mfa_login(browser, person)

    response = scim.delete(f"/Users/{created['id']}")

    assert response.status_code == 204
    assert response.content == b""
    person.refresh_from_db()
    assert not person.is_active  # kept, for the audit trail and a return
    assert browser.get("/security-info/")["Location"].startswith("/signin/")
    # RFC 7644 §3.6: gone from SCIM afterwards.
    scim_error(scim.get(f"/Users/{created['id']}"), 404)
    assert scim.get("/Users", query={"filter": 'userName eq "bjensen"'}).json()["totalResults"] == 0
    assert "scim.user_deleted" in _actions()


def test_a_deleted_person_created_again_comes_back(scim: Scim) -> None:
    first = scim.post("/Users", bjensen()).json()
    scim.delete(f"/Users/{first['id']}")

    again = scim.post("/Users", bjensen())

    assert again.status_code == 201, again.content
    assert again.json()["id"] == first["id"]
    assert _person("bjensen@example.com").is_active


def test_an_etag_that_no_longer_matches_refuses_the_write(scim: Scim) -> None:
    created = scim.post("/Users", bjensen()).json()
    path = f"/Users/{created['id']}"
    scim.patch(path, {"op": "replace", "path": "title", "value": "Guide"})

    stale = scim.call(
        "PATCH",
        path,
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "Boss"}],
        },
        **{"If-Match": created["meta"]["version"]},
    )

    assert stale.status_code == 412, stale.content
    assert scim.get(path).json()["title"] == "Guide"
    fresh = scim.get(path)
    assert scim.get(path, **{"If-None-Match": fresh["ETag"]}).status_code == 304


def test_helpdesk_deactivation_shows_over_scim(scim: Scim) -> None:
    created = scim.post("/Users", bjensen()).json()
    person = _person("bjensen@example.com")
    person.is_active = False
    person.save()

    shown = scim.get(f"/Users/{created['id']}").json()

    assert shown["active"] is False
    assert shown["meta"]["version"] != created["meta"]["version"]


def test_a_new_person_with_a_deleted_persons_username_does_not_inherit_their_account(
    scim: Scim,
) -> None:
    old = scim.post("/Users", bjensen()).json()
    scim.delete(f"/Users/{old['id']}")

    new = scim.post(
        "/Users",
        bjensen(externalId="990001", emails=[{"value": "b.jensen2@example.com", "primary": True}]),
    )

    assert new.status_code == 201, new.content
    assert new.json()["id"] != old["id"]
    assert not _person("bjensen@example.com").is_active
    assert _person("b.jensen2@example.com").is_active


def test_a_reused_address_with_another_external_id_is_refused(scim: Scim) -> None:
    old = scim.post("/Users", bjensen()).json()
    scim.delete(f"/Users/{old['id']}")

    scim_error(scim.post("/Users", bjensen(externalId="990001")), 409, "uniqueness")
    assert not _person("bjensen@example.com").is_active
