"""A refresh grant is an assertion too: the door decides whether the sign-in behind the token
still satisfies the service (issue #14, "every path that issues one")."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.helpers import code_for, sign_in_password
from vahva.audit.models import AuditEvent
from vahva.oidc.models import Service
from vahva.policy import campaign

from .helpers import authorize_url, code_from, exchange, query_of

pytestmark = pytest.mark.django_db


def refresh(client: Client, service: Any, token: str) -> Any:
    return exchange(client, service, "", grant_type="refresh_token", refresh_token=token)


def password_only_tokens(client: Client, mail: Any, alice: Any, clock: Any) -> dict[str, Any]:
    """Alice put registering off: the password alone gets her tokens (acr sfa)."""
    campaign.snooze(alice, now=clock())
    start = client.get(authorize_url(mail.client_id))
    sign_in_password(client, next=query_of(start["Location"])["next"])
    return dict(exchange(client, mail, code_from(client.get(authorize_url(mail.client_id)))).json())


def test_a_password_only_token_refreshes_while_the_policy_allows_it(
    alice: Any, mail: Any, client: Client, clock: Any
) -> None:
    tokens = password_only_tokens(client, mail, alice, clock)
    assert refresh(client, mail, tokens["refresh_token"]).status_code == 200


@pytest.mark.parametrize("change", ["rule_always", "staff", "disabled", "snooze_over"])
def test_what_changed_since_the_sign_in_stops_new_tokens(
    alice: Any, mail: Any, client: Client, clock: Any, change: str
) -> None:
    tokens = password_only_tokens(client, mail, alice, clock)
    if change == "rule_always":
        Service.objects.filter(application=mail.application).update(mfa_rule="always")
    elif change == "staff":
        alice.is_staff = True
        alice.save()
    elif change == "disabled":
        alice.is_active = False
        alice.save()
    else:
        clock.advance(2 * 86400)  # "Not now" has run out: she must register first
    refused = refresh(client, mail, tokens["refresh_token"])
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    if change != "disabled":
        assert AuditEvent.objects.filter(action="oidc.refresh_refused").exists()


def test_a_multi_factor_token_keeps_refreshing_under_a_stricter_rule(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any
) -> None:
    _method, secret = alice_totp
    start = client.get(authorize_url(mail.client_id))
    sign_in_password(client, next=query_of(start["Location"])["next"])
    client.post("/signin/verify/", {"code": code_for(secret, clock)})
    tokens = exchange(client, mail, code_from(client.get(authorize_url(mail.client_id)))).json()
    Service.objects.filter(application=mail.application).update(mfa_rule="always")
    assert refresh(client, mail, tokens["refresh_token"]).status_code == 200
    # ...but not under "phishing-resistant only": a code was its second factor.
    Service.objects.filter(application=mail.application).update(mfa_rule="phishing_resistant")
    fresh = refresh(client, mail, tokens["refresh_token"])
    assert fresh.status_code == 400
