"""The admin's trusted networks are kept per process (issue 20: they were read twice per
sign-in); a change made here counts at once, one made on another node within 10 seconds.

transaction=True: inside a transaction nothing is kept (a test's own transaction included),
so these tests see the process-wide copy as a server does.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.helpers import sign_in_password
from vahva.policy import trusted
from vahva.policy.models import TrustedNetwork

pytestmark = pytest.mark.django_db(transaction=True)

VPN_ADDRESS = "10.100.3.4"


def _reads(ip: str) -> tuple[str | None, int]:
    """The network ``ip`` is in, and how many statements asking took."""
    with CaptureQueriesContext(connection) as captured:
        found = trusted.network_of(ip)
    return found, len(captured.captured_queries)


def test_networks_are_read_once_and_an_admins_change_counts_at_once(clock: Any) -> None:
    assert _reads(VPN_ADDRESS)[0] is None
    # Kept: the next sign-in's question costs no statement.
    assert _reads(VPN_ADDRESS) == (None, 0)
    vpn = TrustedNetwork.objects.create(name="VPN", blocks="10.100.0.0/16")
    assert _reads(VPN_ADDRESS)[0] == "VPN"
    # Disabled or removed by an admin: its addresses stop skipping anything at once (an
    # address range handed to someone else must not stay trusted for a moment longer).
    vpn.enabled = False
    vpn.save()
    assert _reads(VPN_ADDRESS)[0] is None
    vpn.enabled = True
    vpn.save()
    assert _reads(VPN_ADDRESS)[0] == "VPN"
    vpn.delete()
    assert _reads(VPN_ADDRESS)[0] is None


def test_a_change_on_another_node_counts_within_ten_seconds(clock: Any) -> None:
    vpn = TrustedNetwork.objects.create(name="VPN", blocks="10.100.0.0/16")
    assert _reads(VPN_ADDRESS)[0] == "VPN"
    # Another node's admin disables it: no signal reaches this process.
    TrustedNetwork.objects.filter(pk=vpn.pk).update(enabled=False)
    clock.advance(9)
    assert _reads(VPN_ADDRESS) == ("VPN", 0)
    clock.advance(1)
    assert _reads(VPN_ADDRESS)[0] is None
    # A clock set back does not keep the copy either.
    TrustedNetwork.objects.filter(pk=vpn.pk).update(enabled=True)
    clock.advance(-300)
    assert _reads(VPN_ADDRESS)[0] == "VPN"


def test_a_removed_network_asks_for_the_second_factor_at_the_next_sign_in(
    alice_totp: Any, admin_client: Client, clock: Any
) -> None:
    vpn = TrustedNetwork.objects.create(name="VPN", blocks="10.100.0.0/16")
    inside = Client(REMOTE_ADDR=VPN_ADDRESS)
    assert sign_in_password(inside)["Location"] != "/signin/verify/"
    # The admin removes the network through the admin site.
    removed = admin_client.post(f"/admin/policy/trustednetwork/{vpn.pk}/delete/", {"post": "yes"})
    assert removed.status_code == 302
    assert not TrustedNetwork.objects.exists()
    # Same process, no time passed: the address is no longer trusted.
    assert sign_in_password(Client(REMOTE_ADDR=VPN_ADDRESS))["Location"] == "/signin/verify/"
