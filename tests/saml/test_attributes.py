"""Attributes and identifiers: pairwise, stable, opaque; only what the policy releases."""

from __future__ import annotations

from vahva.saml import attributes
from vahva.saml.attributes import Person

SECRET = b"k" * 32
ALICE = Person(
    email="alice.smith@uni.example",
    full_name="Alice Maria Smith",
    stable_id="0b5a4a0c-1d8e-4c47-9b7a-0a0c2a8e5d11",
)


def _values(
    sp: str = "https://learn.example/sp", scope: str = "uni.example"
) -> dict[str, list[str]]:
    return attributes.everything(
        ALICE,
        secret=SECRET,
        sp_entity_id=sp,
        scope=scope,
        affiliation="member",
        home_organization="",
    )


def test_the_attributes_of_a_person() -> None:
    values = _values()
    assert values["eduPersonPrincipalName"] == ["alice.smith@uni.example"]
    assert values["mail"] == ["alice.smith@uni.example"]
    assert values["displayName"] == ["Alice Maria Smith"]
    assert values["givenName"] == ["Alice Maria"]
    assert values["sn"] == ["Smith"]
    assert values["eduPersonAffiliation"] == ["member"]
    assert values["eduPersonScopedAffiliation"] == ["member@uni.example"]
    assert values["schacHomeOrganization"] == ["uni.example"]
    assert values["subject-id"] == ["0b5a4a0c1d8e4c479b7a0a0c2a8e5d11@uni.example"]
    assert values["pairwise-id"][0].endswith("@uni.example")


def test_a_configured_scope_replaces_the_mail_domain() -> None:
    person = Person(email="bob@mail.uni.example", full_name="", stable_id="x")
    assert attributes.scope_of(person, "") == "mail.uni.example"
    assert attributes.scope_of(person, "Uni.Example") == "uni.example"


def test_identifiers_are_stable_per_service_and_differ_between_services() -> None:
    one = attributes.persistent_name_id(secret=SECRET, sp_entity_id="a", stable_id="p")
    assert one == attributes.persistent_name_id(secret=SECRET, sp_entity_id="a", stable_id="p")
    assert one != attributes.persistent_name_id(secret=SECRET, sp_entity_id="b", stable_id="p")
    assert "p" not in one
    assert len(one) == 43
    assert _values("a")["pairwise-id"] != _values("b")["pairwise-id"]
    local = _values("a")["pairwise-id"][0].partition("@")[0]
    assert local.isalnum()
    assert len(local) <= 127


def test_only_what_the_policy_allows_and_the_service_asks_for() -> None:
    values = _values()
    allowed = ["mail", "displayName", "eduPersonPrincipalName"]
    assert set(attributes.released(values, allowed=allowed, requested=None)) == set(allowed)
    asked = attributes.released(values, allowed=allowed, requested={"mail", "sn"})
    assert asked == {"mail": ["alice.smith@uni.example"]}
    assert "subject-id" not in attributes.DEFAULT_RELEASE
