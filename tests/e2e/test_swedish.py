"""A Swedish speaker chooses Svenska in the language switch and registers in Swedish.

The QR code is read by zbarimg and the code comes from oathtool, as in Alice's story: the
test trusts only what the person sees, and every page on the way speaks Swedish, passes
axe-core, and keeps the choice (the language cookie) until the person switches back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import (
    ALICE,
    PASSWORD,
    BrowserProblems,
    decode_qr,
    oathtool,
    parse_otpauth,
)
from vahva.clock import FakeClock

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_alice_registers_in_swedish(
    live_server: Any,
    page: Page,
    clock: FakeClock,
    make_user: Callable[..., Any],
    problems: BrowserProblems,
) -> None:
    make_user(email=ALICE)
    page.goto(live_server.url + "/signin/")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "en")

    # Django names each language in itself, in lower case: English, suomi, svenska.
    language = page.get_by_label("Language")
    swedish = re.compile(r"^svenska$", re.IGNORECASE)
    expect(language.get_by_role("option")).to_have_text(
        ["English", re.compile(r"^suomi$", re.IGNORECASE), swedish]
    )
    value = language.get_by_role("option", name=swedish).get_attribute("value")
    assert value == "sv"
    language.select_option(value)

    expect(html).to_have_attribute("lang", "sv")
    expect(page).to_have_url(live_server.url + "/signin/")
    expect(page.get_by_role("heading", name="Logga in", exact=True)).to_be_visible()
    expect(page.get_by_label("Språk")).to_have_value("sv")
    assert_accessible(page, "sign in, Swedish")

    # A wrong password is told in Swedish.
    page.get_by_label("E-postadress").fill(ALICE)
    page.get_by_label("Lösenord").fill("inte lösenordet")
    page.get_by_role("button", name="Logga in", exact=True).click()
    expect(page.get_by_text("E-postadressen eller lösenordet är inte rätt.")).to_be_visible()

    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in", exact=True).click()
    expect(page.get_by_role("heading", name="Håll ditt konto säkert")).to_be_visible()
    expect(page.get_by_text("Din organisation ber dig ställa in de här sätten")).to_be_visible()
    assert_accessible(page, "wizard, Swedish")

    # Another authenticator app, set up in Swedish.
    page.goto(live_server.url + "/security-info/setup/totp/")
    expect(page.get_by_role("heading", name="Autentiseringsapp")).to_be_visible()
    account = parse_otpauth(decode_qr(page, "swedish-qr", "QR-kod för din autentiseringsapp"))
    assert account.issuer == "Demo University"
    code = page.get_by_label("Ange den 6-siffriga kod som visas i appen")
    code.fill("12345")
    page.get_by_role("button", name="Nästa").click()
    expect(page.get_by_text("Koden har 6 siffror, till exempel 123456.")).to_be_visible()
    code = page.get_by_label("Ange den 6-siffriga kod som visas i appen")
    code.fill(oathtool(account.secret, clock()))
    page.get_by_role("button", name="Nästa").click()

    # The phone step in Swedish; Alice skips it for now.
    expect(page.get_by_role("heading", name="Håll ditt konto säkert")).to_be_visible()
    page.goto(live_server.url + "/security-info/setup/sms/")
    expect(page.get_by_text("Vilket telefonnummer vill du använda?")).to_be_visible()
    expect(page.get_by_label("Ring mig")).to_be_visible()
    assert_accessible(page, "wizard phone step, Swedish")
    page.get_by_role("button", name="Hoppa över inställningen").click()
    expect(page.get_by_role("heading", name="Klart!")).to_be_visible()
    page.get_by_role("link", name="Klar", exact=True).click()
    expect(page.get_by_role("heading", name="Säkerhetsinformation")).to_be_visible()
    methods = page.get_by_role("table", name="Dina inloggningsmetoder")
    expect(methods.get_by_role("link", name="Ta bort Kod från autentiseringsapp")).to_be_visible()
    assert_accessible(page, "security info, Swedish")

    # The choice sticks for other pages, until Alice switches back to English.
    page.goto(live_server.url + "/help/")
    expect(html).to_have_attribute("lang", "sv")
    expect(page.get_by_role("heading", name="Vanliga frågor")).to_be_visible()
    page.get_by_label("Språk").select_option("en")
    expect(html).to_have_attribute("lang", "en")
    expect(page).to_have_url(live_server.url + "/help/")
    expect(page.get_by_role("heading", name="Frequently asked questions")).to_be_visible()
    problems.assert_none(expected_status_at={"/signin/": 400, "/security-info/setup/totp/": 400})
