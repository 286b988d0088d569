"""Exemptions (the helpdesk's opt-outs) and trusted networks kept in the admin: bad input is
refused with a clear message and nothing saved; what is saved is what the sign-in obeys."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from tests.helpers import sign_in_password
from vahva.audit.models import AuditEvent
from vahva.errors import MalformedInput
from vahva.policy import exemptions, trusted
from vahva.policy.models import Exemption, TrustedNetwork

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("ticket", "reason", "days", "message"),
    [
        ("", "no phone", 30, "needs the helpdesk ticket number"),
        ("  ", "no phone", 30, "needs the helpdesk ticket number"),
        ("HD-1", "", 30, "needs a reason"),
        ("HD-1", "no phone", -1, "must be in the future"),
        ("HD-1", "no phone", 0, "must be in the future"),
        ("HD-1", "no phone", 366, "at most 365 days"),
    ],
)
def test_an_exemption_needs_ticket_reason_and_a_near_end(
    alice: Any, clock: Any, ticket: str, reason: str, days: int, message: str
) -> None:
    with pytest.raises(MalformedInput) as raised:
        exemptions.grant(
            alice, ticket=ticket, reason=reason, expires_at=clock() + days * DAY, now=clock()
        )
    assert message in str(raised.value.message)
    assert not Exemption.objects.exists()
    assert not AuditEvent.objects.filter(action="exemption.granted").exists()


def test_an_exemption_holds_until_its_end_or_revocation(
    alice_totp: Any, alice: Any, make_user: Any, client: Client, clock: Any
) -> None:
    agent = make_user("agent@example.org", is_staff=True)
    granted = exemptions.grant(
        alice,
        ticket="HD-42",
        reason="no smartphone",
        expires_at=clock() + 7 * DAY,
        now=clock(),
        actor=agent,
    )
    event = AuditEvent.objects.get(action="exemption.granted")
    assert (event.actor_id, event.data["ticket"], event.reason) == (
        agent.pk,
        "HD-42",
        "no smartphone",
    )
    # Outside any trusted network, and past the activation delay: no second step.
    assert sign_in_password(client)["Location"] == "/security-info/"
    client.post("/signout/")
    # Once it ends, asked again.
    clock.advance(7 * 86400 + 1)
    assert sign_in_password(client)["Location"] == "/signin/verify/"
    # Revoked early: asked again at once.
    client = Client()
    again = exemptions.grant(
        alice, ticket="HD-43", reason="travel", expires_at=clock() + DAY, now=clock()
    )
    with pytest.raises(MalformedInput):
        exemptions.revoke(alice, granted.pk + 1000, ticket="HD-43", now=clock())
    with pytest.raises(MalformedInput):
        exemptions.revoke(alice, again.pk, ticket="", now=clock())
    exemptions.revoke(alice, again.pk, ticket="HD-43", now=clock(), actor=agent)
    assert exemptions.active_for(alice, now=clock()) is None
    assert sign_in_password(client)["Location"] == "/signin/verify/"
    assert AuditEvent.objects.filter(action="exemption.revoked").count() == 1


def test_another_persons_exemption_cannot_be_revoked(
    alice: Any, make_user: Any, clock: Any
) -> None:
    bob = make_user("bob@example.org")
    his = exemptions.grant(bob, ticket="HD-1", reason="r", expires_at=clock() + DAY, now=clock())
    with pytest.raises(MalformedInput):
        exemptions.revoke(alice, his.pk, ticket="HD-2", now=clock())
    assert exemptions.active_for(bob, now=clock()) is not None


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ("130.233.1.7/16", "has host bits set"),
        ("10.0.0.0/33", "is not a CIDR block"),
        ("campus", "is not a CIDR block"),
        ("", "has no CIDR blocks"),
        # Overlaps the file's Campus network.
        ("130.233.128.0/17", "overlap"),
    ],
)
def test_admin_networks_refuse_malformed_and_overlapping_blocks(
    settings: Any, blocks: str, message: str
) -> None:
    settings.VAHVA = {**settings.VAHVA, "TRUSTED_NETWORKS": {"Campus": ["130.233.0.0/16"]}}
    network = TrustedNetwork(name="VPN", blocks=blocks)
    with pytest.raises(ValidationError) as raised:
        network.full_clean()
    assert message in str(raised.value)


def test_admin_networks_join_the_files_and_are_audited(admin_client: Client, settings: Any) -> None:
    settings.VAHVA = {**settings.VAHVA, "TRUSTED_NETWORKS": {"Campus": ["130.233.0.0/16"]}}
    response = admin_client.post(
        "/admin/policy/trustednetwork/add/",
        {"name": "VPN", "blocks": "10.100.0.0/16\n2001:db8:1::/48", "enabled": "on", "note": ""},
    )
    assert response.status_code == 302
    assert trusted.network_of("10.100.3.4") == "VPN"
    assert trusted.network_of("2001:db8:1::9") == "VPN"
    assert trusted.network_of("130.233.1.7") == "Campus"
    assert AuditEvent.objects.get(action="policy.network_saved").data["network"] == "VPN"
    # An overlapping second network is refused on the form, with the reason.
    refused = admin_client.post(
        "/admin/policy/trustednetwork/add/",
        {"name": "Lab", "blocks": "10.100.7.0/24", "enabled": "on", "note": ""},
    )
    assert refused.status_code == 200
    assert "overlap" in refused.content.decode()
    assert TrustedNetwork.objects.count() == 1
    # The file's names are the file's.
    clash = admin_client.post(
        "/admin/policy/trustednetwork/add/",
        {"name": "Campus", "blocks": "192.0.2.0/24", "enabled": "on", "note": ""},
    )
    assert "already set in the configuration file" in clash.content.decode()
