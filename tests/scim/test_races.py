"""Two identity systems (or one retrying) creating the same person at the same moment."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from .conftest import Scim, bjensen

pytestmark = pytest.mark.django_db(transaction=True)

PARALLEL = 8


def test_parallel_creates_of_one_person_make_one(token: str) -> None:
    from vahva.accounts.models import User
    from vahva.scim.models import ScimProfile

    barrier = threading.Barrier(PARALLEL)
    statuses: list[int] = []

    def create() -> None:
        try:
            scim = Scim(Client(), token)
            barrier.wait(timeout=30)
            statuses.append(scim.post("/Users", bjensen()).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert Counter(statuses) == {201: 1, 409: PARALLEL - 1}
    assert User.objects.filter(email="bjensen@example.com").count() == 1
    assert ScimProfile.objects.count() == 1


def test_parallel_creates_of_one_username_with_different_addresses(token: str) -> None:
    from vahva.accounts.models import User
    from vahva.scim.models import ScimProfile

    barrier = threading.Barrier(PARALLEL)
    statuses: list[int] = []

    def create(n: int) -> None:
        try:
            scim = Scim(Client(), token)
            barrier.wait(timeout=30)
            body: dict[str, Any] = bjensen(emails=[{"value": f"babs{n}@example.com"}])
            statuses.append(scim.post("/Users", body).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert Counter(statuses) == {201: 1, 409: PARALLEL - 1}
    # The losers left no person without a profile behind.
    assert ScimProfile.objects.count() == User.objects.count() == 1
