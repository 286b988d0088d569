"""Shibboleth SP 3 (apache2 + shibd, Debian's libapache2-mod-shib) signs people in through
vahva's SAML IdP: a protected page, the released attributes in the SP's session, and the
REFEDS MFA context asked for by the SP and honoured by vahva."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from vahva.clock import FakeClock

from . import shibsp_server
from .conftest import Person
from .saml_browser import post_to_service, sign_in_to_saml

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not shibsp_server.available(),
        reason="needs apache2, libapache2-mod-shib and xmlsec1 (make system-deps)",
    ),
]


def _visit(
    sp: shibsp_server.ShibSP,
    page: str,
    *,
    idp_url: str,
    person: Person,
    clock: FakeClock,
    expect_mfa: bool,
    then_log_out: bool = False,
) -> str:
    """Open ``page`` at the SP in a new browser, sign in at vahva; the SP's session page."""
    with httpx.Client(timeout=15) as browser:
        response = browser.get(sp.base + page)
        assert response.status_code == 302, response.text[:500]
        sso = response.headers["location"]
        assert sso.startswith(idp_url + "/saml/sso?SAMLRequest="), sso
        posted = sign_in_to_saml(browser, sso, person=person, clock=clock, expect_mfa=expect_mfa)
        assert posted.action == sp.base + "/Shibboleth.sso/SAML2/POST"
        consumed = post_to_service(browser, posted)
        assert consumed.status_code == 302, consumed.text[:3000] + sp.log_tail()
        assert consumed.headers["location"].endswith(page)
        protected = browser.get(sp.base + page)
        assert protected.status_code == 200
        assert protected.text == f"protected {page.strip('/')}\n"
        summary = browser.get(sp.base + "/Shibboleth.sso/Session").text
        if then_log_out:
            _log_out(browser, sp, idp_url)
        return re.sub(r"<[^>]+>", "", summary)  # the summary page's text, without its markup


def _log_out(browser: httpx.Client, sp: shibsp_server.ShibSP, idp_url: str) -> None:
    """Shibboleth's logout sends a LogoutRequest to vahva's SLO; vahva ends its session and
    answers with a signed LogoutResponse, which Shibboleth accepts."""
    response = browser.get(sp.base + "/Shibboleth.sso/Logout")
    assert response.status_code == 302, response.text[:2000] + sp.log_tail()
    assert response.headers["location"].startswith(idp_url + "/saml/slo?SAMLRequest="), (
        response.headers["location"]
    )
    answered = browser.get(response.headers["location"])
    assert answered.status_code == 302, answered.text[:1000]
    back = answered.headers["location"]
    assert back.startswith(sp.base + "/Shibboleth.sso/SLO/Redirect?SAMLResponse="), back
    done = browser.get(back)
    assert done.status_code in (200, 302), done.text[:2000] + sp.log_tail()
    assert "Logout failed" not in done.text, done.text[:2000] + sp.log_tail()
    # Signed out of vahva: its pages ask for a sign-in again.
    assert browser.get(idp_url + "/security-info/").status_code == 302
    # And of the service: its protected page sends the browser to vahva again.
    assert browser.get(sp.base + "/secure/").status_code == 302


def test_shibboleth_sp_gets_attributes_and_the_refeds_context(
    live_server: Any, bob: Person, clock: FakeClock, settings: Any
) -> None:
    settings.VAHVA = {**settings.VAHVA, "PUBLIC_URL": live_server.url, "SAML_SCOPE": "demo.example"}
    from vahva.saml import idp, providers

    with shibsp_server.ShibSP(idp.entity_id(), idp.metadata_xml()) as sp:
        # The service itself asks for no second factor: only its /mfa/ pages ask for REFEDS MFA.
        row = providers.add(metadata=sp.metadata().encode(), name="Demo Wiki", mfa_rule="never")
        session = _visit(
            sp, "/secure/", idp_url=live_server.url, person=bob, clock=clock, expect_mfa=False
        )
        assert "Authentication Context Class: https://refeds.org/profile/sfa" in session, session
        assert "eppn: bob@demo.example" in session
        assert "mail: bob@demo.example" in session
        assert "displayName: Bob Berg" in session
        assert "scopedAffiliation: member@demo.example" in session
        assert re.search(r"pairwise-id: [A-Z2-7]{52}@demo\.example", session)
        assert "persistent-id: " in session
        assert "bob" not in session.split("persistent-id: ")[1].split("\n")[0]

        session = _visit(
            sp,
            "/mfa/",
            idp_url=live_server.url,
            person=bob,
            clock=clock,
            expect_mfa=True,
            then_log_out=True,
        )
        assert "Authentication Context Class: https://refeds.org/profile/mfa" in session, session

    from vahva.audit.models import AuditEvent

    issued = AuditEvent.objects.filter(action="saml.sso").order_by("id")
    assert [event.data["acr"] for event in issued] == [
        "https://refeds.org/profile/sfa",
        "https://refeds.org/profile/mfa",
    ]
    assert {event.data["service"] for event in issued} == {row.entity_id}
    assert AuditEvent.objects.filter(action="saml.logout", data__service=row.entity_id).exists()
