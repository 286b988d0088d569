"""The policy as a table: context in, decision and reason out."""

from __future__ import annotations

import datetime as dt

import pytest

from vahva.policy import Context, decide

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("has_methods", "registered_ago", "delay", "force", "require", "register", "reason"),
    [
        (False, None, 0, False, False, True, "no sign-in method registered"),
        (False, None, 0, True, False, True, "no sign-in method registered"),
        (True, HOUR, 0, False, True, False, "has registered methods"),
        (True, HOUR, 7200, False, False, False, "enforced from 2026-03-02T13:00"),
        (True, 3 * HOUR, 7200, False, True, False, "has registered methods"),
        (True, HOUR, 7200, True, True, False, "service asked for a second factor"),
    ],
)
def test_decide(
    has_methods: bool,
    registered_ago: dt.timedelta | None,
    delay: int,
    force: bool,
    require: bool,
    register: bool,
    reason: str,
) -> None:
    decision = decide(
        Context(
            now=NOW,
            client_ip="198.51.100.7",
            has_methods=has_methods,
            registered_at=NOW - registered_ago if registered_ago else None,
            activation_delay=delay,
            force_mfa=force,
        )
    )
    assert decision.require_mfa is require
    assert decision.needs_registration is register
    assert reason in decision.reason


@pytest.mark.parametrize(
    ("rule", "registered_ago", "force", "require", "reason"),
    [
        ("always", HOUR, False, True, "MFA required: service Mail requires it always"),
        ("never", 3 * HOUR, False, False, "MFA skipped: service Mail never requires it"),
        ("never", 3 * HOUR, True, True, "MFA required: service Mail asked for a second factor"),
        ("outside_trusted", HOUR, False, False, "after the activation delay"),
        ("outside_trusted", 3 * HOUR, False, True, "has registered methods"),
    ],
)
def test_service_rules(
    rule: str, registered_ago: dt.timedelta, force: bool, require: bool, reason: str
) -> None:
    # "always" does not wait for the activation delay: the service owner asked for MFA.
    decision = decide(
        Context(
            now=NOW,
            client_ip="198.51.100.7",
            has_methods=True,
            registered_at=NOW - registered_ago,
            activation_delay=7200,
            force_mfa=force,
            service="Mail",
            service_rule=rule,
        )
    )
    assert decision.require_mfa is require
    assert decision.reason == reason or reason in decision.reason


@pytest.mark.parametrize(
    ("rule", "network", "force", "require", "reason"),
    [
        (
            "outside_trusted",
            "Campus",
            False,
            False,
            "MFA skipped: 130.233.1.7 is in trusted network Campus",
        ),
        ("outside_trusted", None, False, True, "MFA required: the person has registered methods"),
        # A service that always asks, or a service asking for MFA now, is not waived on campus.
        ("always", "Campus", False, True, "MFA required: service Mail requires it always"),
        (
            "outside_trusted",
            "VPN",
            True,
            True,
            "MFA required: service Mail asked for a second factor",
        ),
        ("never", None, False, False, "MFA skipped: service Mail never requires it"),
    ],
)
def test_trusted_networks(
    rule: str, network: str | None, force: bool, require: bool, reason: str
) -> None:
    decision = decide(
        Context(
            now=NOW,
            client_ip="130.233.1.7",
            has_methods=True,
            registered_at=NOW - 3 * HOUR,
            activation_delay=7200,
            force_mfa=force,
            service="Mail",
            service_rule=rule,
            trusted_network=network,
        )
    )
    assert (decision.require_mfa, decision.reason) == (require, reason)
