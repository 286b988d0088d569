"""The policy as a table: context in, decision and reason out."""

from __future__ import annotations

import datetime as dt

import pytest

from vahva.policy import Context, decide
from vahva.policy.decide import SERVICE_RULES

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("has_methods", "registered_ago", "delay", "force", "require", "register", "reason"),
    [
        (False, None, 0, False, False, True, "no sign-in method registered"),
        # The service asks for MFA of a person without methods: required (nothing to ask, so
        # the door tells them to set one up), never an assertion with the password alone.
        (False, None, 0, True, True, True, "no sign-in method is registered"),
        (True, HOUR, 0, False, True, False, "has registered methods"),
        (True, HOUR, 7200, False, False, False, "enforced from 2026-03-02 13:00 UTC"),
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
        (
            "phishing_resistant",
            HOUR,
            False,
            True,
            "MFA required: service Mail requires phishing-resistant MFA",
        ),
        (
            "phishing_resistant",
            3 * HOUR,
            True,
            True,
            "MFA required: service Mail requires phishing-resistant MFA",
        ),
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
    assert decision.phishing_resistant is (rule == "phishing_resistant")


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
        # Phishing-resistant MFA is not waived on campus either.
        (
            "phishing_resistant",
            "Campus",
            False,
            True,
            "MFA required: service Mail requires phishing-resistant MFA",
        ),
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


LATER = NOW + 30 * 24 * HOUR
EARLIER = NOW - HOUR


def _ctx(**changes: object) -> Context:
    base: dict[str, object] = {
        "now": NOW,
        "client_ip": "198.51.100.7",
        "has_methods": True,
        "registered_at": NOW - 3 * HOUR,
        "activation_delay": 7200,
        "service": "Mail",
    }
    return Context(**{**base, **changes})  # type: ignore[arg-type]


EXEMPT = {"exempt_until": LATER, "exemption_ticket": "HD-1234"}


@pytest.mark.parametrize(
    ("changes", "require", "register", "reason"),
    [
        # Exemptions: an opt-out skips the organisation's rule...
        (EXEMPT, False, False, "MFA skipped: exempted until 2026-04-01 12:00 UTC (ticket HD-1234)"),
        # ...is not asked to register either...
        ({**EXEMPT, "has_methods": False, "registered_at": None}, False, False, "exempted until"),
        # ...ends on its date...
        (
            {"exempt_until": EARLIER, "exemption_ticket": "HD-1"},
            True,
            False,
            "MFA required: the person has registered methods",
        ),
        # ...and does not lift a service's "always" or a step-up.
        ({**EXEMPT, "service_rule": "always"}, True, False, "requires it always"),
        ({**EXEMPT, "force_mfa": True}, True, False, "asked for a second factor"),
        # An exemption and a trusted network: the exemption is what the log names.
        ({**EXEMPT, "trusted_network": "Campus"}, False, False, "exempted until"),
        # Remembered browsers: skipped until the date, then asked again.
        (
            {"remembered_until": LATER},
            False,
            False,
            "MFA skipped: this browser is remembered until 2026-04-01 12:00 UTC",
        ),
        ({"remembered_until": EARLIER}, True, False, "MFA required: the person has registered"),
        ({"remembered_until": LATER, "service_rule": "always"}, True, False, "requires it always"),
        ({"remembered_until": LATER, "force_mfa": True}, True, False, "asked for a second factor"),
        # A phishing-resistant service: no exemption or remembered browser waives it.
        ({**EXEMPT, "service_rule": "phishing_resistant"}, True, False, "phishing-resistant MFA"),
        (
            {"remembered_until": LATER, "service_rule": "phishing_resistant"},
            True,
            False,
            "requires phishing-resistant MFA",
        ),
        # Without methods there is nothing to ask for, but the rule stands: the door refuses
        # the service and sends the person to register (tests/oidc/test_phishing_resistant.py).
        (
            {"has_methods": False, "registered_at": None, "service_rule": "phishing_resistant"},
            True,
            True,
            "requires it always, and no sign-in method is registered",
        ),
        # Campus before the remembered browser, the delay before both.
        ({"remembered_until": LATER, "trusted_network": "VPN"}, False, False, "network VPN"),
        (
            {"remembered_until": LATER, "registered_at": NOW - HOUR},
            False,
            False,
            "after the activation delay",
        ),
        # No methods and a service that always asks: required, exemption or not.
        (
            {"has_methods": False, "registered_at": None, "service_rule": "always", **EXEMPT},
            True,
            True,
            "requires it always, and no sign-in method is registered",
        ),
        # No methods, an ordinary service: nothing to ask; sent to register.
        (
            {"has_methods": False, "registered_at": None},
            False,
            True,
            "no sign-in method registered yet",
        ),
        # Staff: nothing waives their second factor, not even with no method yet.
        ({"staff": True, **EXEMPT, "trusted_network": "VPN"}, True, False, "staff always"),
        (
            {"staff": True, "remembered_until": LATER, "service_rule": "never"},
            True,
            False,
            "staff always use a second factor",
        ),
        (
            {"staff": True, "has_methods": False, "registered_at": None, **EXEMPT},
            True,
            True,
            "staff always use a second factor, and no sign-in method is registered",
        ),
    ],
)
def test_exemptions_and_remembered_browsers(
    changes: dict[str, object], require: bool, register: bool, reason: str
) -> None:
    decision = decide(_ctx(**changes))
    assert decision.require_mfa is require
    assert decision.needs_registration is register
    assert reason in decision.reason


RULES = ("always", "outside_trusted", "never", "phishing_resistant")


def test_the_invariants_cover_every_service_rule() -> None:
    assert set(RULES) == set(SERVICE_RULES)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("exempt", [False, True])
@pytest.mark.parametrize("network", [None, "Campus"])
@pytest.mark.parametrize("delayed", [False, True])
@pytest.mark.parametrize("remembered", [False, True])
def test_every_combination_keeps_the_invariants(
    rule: str, force: bool, exempt: bool, network: str | None, delayed: bool, remembered: bool
) -> None:
    """All 128 combinations for a person with methods: what may never be waived is not."""
    decision = decide(
        _ctx(
            service_rule=rule,
            force_mfa=force,
            trusted_network=network,
            registered_at=NOW - (HOUR if delayed else 3 * HOUR),
            remembered_until=LATER if remembered else None,
            **(EXEMPT if exempt else {}),
        )
    )
    # A service that always asks, and a step-up, are never waived by anything.
    if rule in ("always", "phishing_resistant") or force:
        assert decision.require_mfa
    # Only a phishing-resistant service limits the methods, and nothing lifts that limit.
    assert decision.phishing_resistant is (rule == "phishing_resistant")
    # "never" is never overridden except by a step-up.
    if rule == "never" and not force:
        assert not decision.require_mfa
    # Each waiver alone suffices for an ordinary service.
    if rule == "outside_trusted" and not force and (exempt or network or delayed or remembered):
        assert not decision.require_mfa
    if rule == "outside_trusted" and not (force or exempt or network or delayed or remembered):
        assert decision.require_mfa
    # The log's reason says which way it went.
    assert decision.reason.startswith("MFA required:" if decision.require_mfa else "MFA skipped:")
    assert not decision.needs_registration


def test_a_pass_is_the_second_factor_of_a_person_without_methods() -> None:
    # The helpdesk removed the lost phone before the pass was used: the password alone must
    # not let its holder register a phone of their own.
    decision = decide(_ctx(has_methods=False, registered_at=None, has_pass=True))
    assert decision.require_mfa
    assert decision.needs_registration
    assert decision.reason == "MFA required: the helpdesk issued a temporary access pass"
    # An exemption still lets the person in without one.
    exempt = decide(_ctx(has_methods=False, registered_at=None, has_pass=True, **EXEMPT))
    assert not exempt.require_mfa


@pytest.mark.parametrize(
    ("changes", "must"),
    [
        ({}, True),  # no snooze: the wizard first
        ({"snoozed_until": LATER}, False),  # "Not now" holds
        ({"snoozed_until": EARLIER}, True),  # ...and has run out
        ({"snoozed_until": LATER, "staff": True}, True),  # staff cannot put it off
    ],
)
def test_mandatory_registration_is_the_policys(changes: dict[str, object], must: bool) -> None:
    decision = decide(_ctx(has_methods=False, registered_at=None, **changes))
    assert decision.needs_registration
    assert decision.must_register is must
