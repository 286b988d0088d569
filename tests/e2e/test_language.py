"""Choosing Finnish in the language selector turns the page Finnish."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import BrowserProblems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_alice_switches_to_finnish(live_server: Any, page: Page, problems: BrowserProblems) -> None:
    page.goto(live_server.url + "/signin/")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "en")
    language = page.get_by_label("Language")
    # Django names Finnish in Finnish, where language names are written in lower case.
    finnish = re.compile(r"^suomi$", re.IGNORECASE)
    swedish = re.compile(r"^svenska$", re.IGNORECASE)
    expect(language.get_by_role("option")).to_have_text(["English", finnish, swedish])
    # With scripts on, choosing is enough: the "Change" button is not needed (and hidden).
    expect(page.get_by_role("button", name="Change")).to_be_hidden()

    value = language.get_by_role("option", name=finnish).get_attribute("value")
    assert value
    language.select_option(value)

    expect(html).to_have_attribute("lang", "fi")
    expect(page).to_have_url(live_server.url + "/signin/")
    expect(page.get_by_role("button", name="Kirjaudu sisään")).to_be_visible()
    # The choice sticks for the next page too.
    page.goto(live_server.url + "/help/")
    expect(html).to_have_attribute("lang", "fi")
    problems.assert_none()
