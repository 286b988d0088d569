"""Sign-in by bind in the browser: the directory's password works, and a directory that is
down gives a clear page (503), not an error page or a local password."""

from __future__ import annotations

import re
from typing import Any

import pytest

# The directory extra (python-ldap) is built from source: `make test` as root installs it.
pytest.importorskip("ldap", reason="the directory extra is not installed (make test as root)")
from playwright.sync_api import Page, expect

from tests.directory.conftest import (  # noqa: F401 (fixtures)
    configure,
    openldap_table,
    slapd,
    tls_files,
)
from tests.e2e.conftest import BrowserProblems, sign_in
from tests.slapd_server import USERS, SlapdServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_directory_sign_in_and_the_directory_down_page(
    live_server: Any,
    page: Page,
    clock: Any,
    configure: Any,  # noqa: F811
    slapd: SlapdServer,  # noqa: F811
    problems: BrowserProblems,
) -> None:
    configure(openldap_table(slapd))
    base = live_server.url
    # By uid: the field says "E-mail address", and the directory's own names work too.
    sign_in(page, base, email="bob", password=USERS["bob"][0])
    # Signed in, and on to register a second factor (bob has none yet).
    expect(page).to_have_url(re.compile(r"/security-info/setup/"))
    page.context.clear_cookies()
    slapd.stop()
    sign_in(page, base, email="bob@example.com", password=USERS["bob"][0])
    expect(page.get_by_role("alert")).to_contain_text(
        "The sign-in service cannot reach the directory"
    )
    problems.assert_none(expected_status_at={"/signin/": 503})
