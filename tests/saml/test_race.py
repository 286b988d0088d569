"""A captured AuthnRequest fired in parallel: only one copy gets through (unique request id)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from .conftest import SSO

PARALLEL = 6


@pytest.mark.django_db(transaction=True)
def test_parallel_copies_of_one_request_only_one_is_accepted(make_sp: Any) -> None:
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(":memory"):
        pytest.skip("needs a database shared between threads")
    sp, _row = make_sp()
    _request_id, form = sp.post_form(SSO)
    statuses: list[int] = []
    barrier = threading.Barrier(PARALLEL)

    def replay() -> None:
        try:
            browser = Client()
            barrier.wait()
            statuses.append(browser.post("/saml/sso", form).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=replay) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [302] + [400] * (PARALLEL - 1)


def test_a_ticket_works_only_in_the_browser_that_brought_the_request(
    client: Client, alice: Any, service: Any
) -> None:
    from urllib.parse import parse_qs, urlsplit

    sp, _row = service
    _request_id, url = sp.redirect_url(SSO)
    parts = urlsplit(url)
    response = client.get(f"{parts.path}?{parts.query}")
    next_url = parse_qs(urlsplit(response["Location"]).query)["next"][0]
    thief = Client()
    from .conftest import signed_in

    signed_in(thief, alice)
    assert thief.get(next_url).status_code == 400
