"""Trusted networks and proxies: parsing the configuration, whose address a request comes
from (X-Forwarded-For only through trusted proxies), which network an address is in."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import PASSWORD
from vahva.conf import validate
from vahva.networks import client_address, network_of, parse_networks, parse_proxies
from vahva.signin.models import SignInAttempt

NETWORKS = parse_networks({"Campus": ["130.233.0.0/16", "2001:708::/32"], "VPN": ["10.8.0.0/16"]})
PROXIES = parse_proxies(["192.0.2.10", "192.0.2.11/32", "2001:db8::10"])


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("130.233.1.7", "Campus"),
        ("2001:708:10::5", "Campus"),
        ("::ffff:130.233.1.7", "Campus"),  # an IPv4-mapped address is the address it carries
        ("10.8.3.4", "VPN"),
        ("130.234.1.7", None),
        ("198.51.100.7", None),
        ("not an address", None),
        (None, None),
    ],
)
def test_network_of(ip: str | None, network: str | None) -> None:
    assert network_of(ip, NETWORKS) == network


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # Not through a trusted proxy: the header is the sender's own words, ignored.
        ("198.51.100.7", "130.233.1.7", "198.51.100.7"),
        # Through a proxy: its hop names the client.
        ("192.0.2.10", "130.233.1.7", "130.233.1.7"),
        # A client's own header before the proxy's hop proves nothing (spoofing).
        ("192.0.2.10", "130.233.1.7, 198.51.100.7", "198.51.100.7"),
        # Two proxies in a row: the first untrusted hop from the right.
        ("192.0.2.10", "198.51.100.7, 192.0.2.11", "198.51.100.7"),
        # Garbage stops the walk at the proxy that passed it on (in no trusted network).
        ("192.0.2.10", "130.233.1.7, garbage", "192.0.2.10"),
        ("192.0.2.10", "", "192.0.2.10"),
        ("2001:db8::10", "2001:708::5", "2001:708::5"),
        (None, "130.233.1.7", None),
    ],
)
def test_client_address(peer: str | None, forwarded: str, client: str | None) -> None:
    assert client_address(peer, forwarded, PROXIES) == client


@given(peer=st.text(max_size=40), forwarded=st.text(max_size=200))
def test_client_address_never_fails_and_never_invents(peer: str, forwarded: str) -> None:
    found = client_address(peer, forwarded, PROXIES)
    hops = [part.strip() for part in forwarded.split(",")]
    # Either the peer itself, or an address a hop of the header named.
    assert found in (peer or None, *hops) or str(ipaddress.ip_address(found or "::")) in hops


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Campus": ["130.233.0.0/33"]}, "is not a CIDR block"),
        ({"Campus": ["130.233.1.7/16"]}, "has host bits set"),
        ({"Campus": "130.233.0.0/16"}, "must be a list"),
        ({"Campus": []}, "has no CIDR blocks"),
        ({"": ["10.0.0.0/8"]}, "needs a name"),
        ({"Campus": ["10.0.0.0/8"], "VPN": ["10.8.0.0/16"]}, "overlap"),
    ],
)
def test_bad_networks_are_configuration_errors(value: Any, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        validate({"TRUSTED_NETWORKS": value})


def test_bad_proxies_are_configuration_errors() -> None:
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        validate({"TRUSTED_PROXIES": ["proxy.example.org"]})
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        validate({"TRUSTED_PROXIES": "192.0.2.10"})


# --- through the sign-in ----------------------------------------------------------------------


def sign_in_from(client: Client, *, peer: str, forwarded: str) -> Any:
    """Alice's password, sent from ``peer`` with an X-Forwarded-For header."""
    return client.post(
        "/signin/",
        {"email": "alice@example.org", "password": PASSWORD},
        REMOTE_ADDR=peer,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


@pytest.fixture
def campus(settings: Any) -> None:
    settings.VAHVA = {
        **settings.VAHVA,
        "TRUSTED_NETWORKS": {"Campus": ["130.233.0.0/16"]},
        "TRUSTED_PROXIES": ["192.0.2.10"],
    }


@pytest.mark.django_db
def test_on_campus_through_the_proxy_no_second_factor(
    campus: None, alice_totp: Any, client: Client, clock: Any
) -> None:
    response = sign_in_from(client, peer="192.0.2.10", forwarded="130.233.1.7")
    assert response.status_code == 302
    assert response["Location"] == "/security-info/"
    attempt = SignInAttempt.objects.get()
    assert attempt.reason == "MFA skipped: 130.233.1.7 is in trusted network Campus"
    assert attempt.ip == "130.233.1.7"


@pytest.mark.django_db
def test_a_spoofed_header_from_outside_still_asks(
    campus: None, alice_totp: Any, client: Client, clock: Any
) -> None:
    """Claiming to be on campus in X-Forwarded-For, without coming through the proxy."""
    response = sign_in_from(client, peer="198.51.100.7", forwarded="130.233.1.7")
    assert response["Location"] == "/signin/verify/"
    attempt = SignInAttempt.objects.get()
    assert attempt.ip == "198.51.100.7"
    assert attempt.reason == "MFA required: the person has registered methods"
