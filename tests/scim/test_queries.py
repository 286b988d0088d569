"""Filters (eq, co, sw, and, ...) and pagination (startIndex, count)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ENTERPRISE, Scim, scim_error

pytestmark = pytest.mark.django_db

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@pytest.fixture
def people(scim: Scim) -> dict[str, str]:
    """Five people; returns their ids by userName."""
    ids = {}
    for name, department in [
        ("anna.aalto", "Physics"),
        ("antti.aho", "Chemistry"),
        ("bertta.berg", "Physics"),
        ("cecilia.carlsson", "History"),
        ("david.dahl", "Physics"),
    ]:
        created = scim.create_user(
            name,
            emails=[{"value": f"{name}@example.org", "primary": True}],
            displayName=name.replace(".", " ").title(),
            externalId=f"ext-{name}",
            **{ENTERPRISE: {"department": department}},
            schemas=[
                "urn:ietf:params:scim:schemas:core:2.0:User",
                ENTERPRISE,
            ],
        )
        ids[name] = created["id"]
    return ids


def _names(scim: Scim, **query: Any) -> list[str]:
    response = scim.get("/Users", query=query)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["schemas"] == [LIST]
    return [resource["userName"] for resource in body["Resources"]] if body["Resources"] else []


@pytest.mark.parametrize(
    ("scim_filter", "expected"),
    [
        ('userName eq "Anna.Aalto"', ["anna.aalto"]),  # caseExact false
        ('userName co "aa"', ["anna.aalto"]),
        ('userName sw "an"', ["anna.aalto", "antti.aho"]),
        ('userName sw "a" and displayName co "Aho"', ["antti.aho"]),
        ('externalId eq "ext-david.dahl"', ["david.dahl"]),
        ('externalId eq "EXT-david.dahl"', []),  # caseExact true
        ('userName eq "nobody"', []),
        ('emails.value eq "bertta.berg@example.org"', ["bertta.berg"]),
        ('emails[value sw "cecilia"]', ["cecilia.carlsson"]),
        (f'{ENTERPRISE}:department eq "Physics" and userName sw "b"', ["bertta.berg"]),
        ('userName sw "a" or userName sw "d"', ["anna.aalto", "antti.aho", "david.dahl"]),
        (
            'not (userName sw "a") and active eq true',
            ["bertta.berg", "cecilia.carlsson", "david.dahl"],
        ),
    ],
)
def test_filters(scim: Scim, people: dict[str, str], scim_filter: str, expected: list[str]) -> None:
    assert sorted(_names(scim, filter=scim_filter)) == expected


def test_filter_by_id(scim: Scim, people: dict[str, str]) -> None:
    assert _names(scim, filter=f'id eq "{people["david.dahl"]}"') == ["david.dahl"]
    assert _names(scim, filter='id eq "not-an-id"') == []


def test_pages(scim: Scim, people: dict[str, str]) -> None:
    first = scim.get("/Users", query={"startIndex": 1, "count": 2}).json()
    second = scim.get("/Users", query={"startIndex": 3, "count": 2}).json()
    last = scim.get("/Users", query={"startIndex": 5, "count": 2}).json()

    assert (first["totalResults"], first["startIndex"], first["itemsPerPage"]) == (5, 1, 2)
    assert (second["startIndex"], last["itemsPerPage"]) == (3, 1)
    pages = [r["userName"] for page in (first, second, last) for r in page["Resources"]]
    assert pages == list(people)


def test_pages_of_a_filter_evaluated_outside_sql(scim: Scim, people: dict[str, str]) -> None:
    body = scim.get(
        "/Users",
        query={"filter": f'{ENTERPRISE}:department eq "Physics"', "startIndex": 2, "count": 1},
    ).json()

    assert body["totalResults"] == 3
    assert [r["userName"] for r in body["Resources"]] == ["bertta.berg"]


def test_count_zero_gives_only_the_total(scim: Scim, people: dict[str, str]) -> None:
    body = scim.get("/Users", query={"count": 0}).json()

    assert body["totalResults"] == 5
    assert not body.get("Resources")


def test_a_page_is_never_longer_than_max_results(
    scim: Scim, people: dict[str, str], settings: Any
) -> None:
    settings.VAHVA = {**getattr(settings, "VAHVA", {}), "SCIM_MAX_RESULTS": 2}

    body = scim.get("/Users", query={"count": 100}).json()

    assert (body["totalResults"], body["itemsPerPage"]) == (5, 2)


@pytest.mark.parametrize(
    "bad",
    [
        "userName eq",
        'userName zz "x"',
        '(userName eq "x"',
        'userName eq "x" and',
        "shoeSize gt 40",
    ],
)
def test_a_bad_filter_is_invalid_filter(scim: Scim, people: dict[str, str], bad: str) -> None:
    scim_error(scim.get("/Users", query={"filter": bad}), 400, "invalidFilter")


def test_attributes_parameter_projects(scim: Scim, people: dict[str, str]) -> None:
    body = scim.get(
        "/Users", query={"filter": 'userName eq "anna.aalto"', "attributes": "displayName"}
    ).json()

    (only,) = body["Resources"]
    assert set(only) == {"schemas", "id", "displayName"}


def test_search_with_post(scim: Scim, people: dict[str, str]) -> None:
    response = scim.post(
        "/Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName sw "a"',
            "count": 1,
        },
    )

    assert response.status_code == 200, response.content
    assert response.json()["totalResults"] == 2
