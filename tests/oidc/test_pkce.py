"""PKCE (S256) for every client, a confidential client let off only in the admin, and no
downgrade: a verifier for a code issued without a challenge is refused (RFC 9700 §2.1.1,
§4.8)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from tests.helpers import sign_in_with_code
from vahva.audit.models import AuditEvent
from vahva.oidc.models import Service

from .conftest import REDIRECT
from .helpers import VERIFIER, authorize_url, code_from, exchange, query_of

pytestmark = pytest.mark.django_db


def signed_in(client: Client, user: Any, clock: Any) -> None:
    sign_in_with_code(client, user, clock)


def test_a_confidential_client_without_a_challenge_gets_no_code(
    alice: Any, mail: Any, client: Client, clock: Any
) -> None:
    signed_in(client, alice, clock)
    response = client.get(authorize_url(mail.client_id, challenge=""))
    assert response["Location"].startswith(REDIRECT)
    query = query_of(response["Location"])
    assert query["error"] == "invalid_request"
    assert "code" not in query


def test_plain_is_refused_for_confidential_clients_too(
    alice: Any, mail: Any, client: Client, clock: Any
) -> None:
    signed_in(client, alice, clock)
    response = client.get(
        authorize_url(mail.client_id, challenge=VERIFIER, code_challenge_method="plain")
    )
    assert query_of(response["Location"])["error"] == "invalid_request"


def test_a_service_let_off_pkce_gets_codes_but_no_downgrade(
    alice: Any, mail: Any, client: Client, clock: Any
) -> None:
    Service.objects.filter(application=mail.application).update(allow_without_pkce=True)
    signed_in(client, alice, clock)
    code = code_from(client.get(authorize_url(mail.client_id, challenge="")))
    # An attacker who injects a code of theirs sends a verifier of the victim's flow: a code
    # without a challenge never goes with a verifier.
    refused = exchange(client, mail, code, verifier=VERIFIER)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    event = AuditEvent.objects.get(action="oidc.pkce_downgrade")
    assert event.outcome == "failure"
    # The code was used up by the refused try: it does not work afterwards either.
    assert exchange(client, mail, code, verifier="").status_code == 400
    fresh = code_from(client.get(authorize_url(mail.client_id, challenge="")))
    assert exchange(client, mail, fresh, verifier="").status_code == 200


def test_public_clients_are_never_let_off(mobile: Any, client: Client) -> None:
    service = Service.objects.get(application=mobile.application)
    service.allow_without_pkce = True
    with pytest.raises(ValidationError, match="Public clients always need PKCE"):
        service.full_clean()
    service.save()  # even if it were stored anyway
    response = client.get(
        authorize_url(mobile.client_id, challenge="", redirect_uri="http://127.0.0.1/callback")
    )
    assert query_of(response["Location"])["error"] == "invalid_request"


def test_the_admin_shows_and_audits_the_exemption(admin_client: Client, mail: Any) -> None:
    service = Service.objects.get(application=mail.application)
    page = admin_client.get(f"/admin/oidc/service/{service.pk}/change/")
    assert "Allow sign-ins without PKCE" in page.content.decode()
    response = admin_client.post(
        f"/admin/oidc/service/{service.pk}/change/",
        {
            "application": mail.application.pk,
            "mfa_rule": "outside_trusted",
            "allow_without_pkce": "on",
        },
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="oidc.service_changed")
    assert event.data["allow_without_pkce"] is True
    assert event.data["client_id"] == mail.client_id
