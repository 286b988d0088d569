"""The policy decision, free of requests and the ORM so it can be tested as a table.

The context says whether the person has registered a method and since when (MFA is enforced
``ACTIVATION_DELAY`` seconds after registration, as in the seed's organisation), what the
service asks, and which trusted network the address is in (found by the caller with
:mod:`vahva.policy.trusted`). Exemptions and remembered devices extend :class:`Context`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class ServiceRule(StrEnum):
    """Per-service MFA rules: always, only outside the organisation's trusted networks, never,
    and always with a phishing-resistant method (a security key or passkey: NIST AAL3)."""

    ALWAYS = "always"
    OUTSIDE_TRUSTED = "outside_trusted"
    NEVER = "never"
    PHISHING_RESISTANT = "phishing_resistant"


@dataclass(frozen=True, kw_only=True)
class Context:
    now: dt.datetime
    client_ip: str | None
    has_methods: bool
    #: When the person's first method was registered (None: no methods).
    registered_at: dt.datetime | None
    #: Seconds between registration and enforcement.
    activation_delay: int
    #: True when the service asks for a fresh second factor (acr_values, re-auth...).
    force_mfa: bool = False
    #: The service the person is signing in to ("" when signing in to vahva itself).
    service: str = ""
    #: The service's MFA rule.
    service_rule: str = ServiceRule.OUTSIDE_TRUSTED
    #: The name of the trusted network ``client_ip`` is in ("Campus"), or None.
    trusted_network: str | None = None
    #: The end of the helpdesk's exemption in force, and its ticket (None: not exempted).
    exempt_until: dt.datetime | None = None
    exemption_ticket: str = ""
    #: Until when this browser is remembered for the person ("Don't ask again"), or None.
    remembered_until: dt.datetime | None = None
    #: The helpdesk has issued the person a temporary access pass that still works.
    has_pass: bool = False
    #: The person is staff (helpdesk, admin): a second factor always, nothing waives it.
    staff: bool = False
    #: Staff must use a phishing-resistant method (VAHVA["STAFF_PHISHING_RESISTANT"]).
    staff_phishing_resistant: bool = False
    #: Until when the person without methods put registering off ("Not now"), or None.
    snoozed_until: dt.datetime | None = None


SERVICE_RULES = tuple(rule.value for rule in ServiceRule)


@dataclass(frozen=True)
class Decision:
    require_mfa: bool
    #: Why, in plain English for the sign-in log and the helpdesk.
    reason: str
    #: The person has no method yet and should be sent to the setup wizard.
    needs_registration: bool = False
    #: ...and no assertion may be issued until they register (no "Not now" holds, or staff).
    must_register: bool = False
    #: Only a phishing-resistant method may give the second factor (a security key or
    #: passkey): a code or a push could be relayed by a look-alike site.
    phishing_resistant: bool = False


def enforced_from(registered_at: dt.datetime, activation_delay: int) -> dt.datetime:
    return registered_at + dt.timedelta(seconds=activation_delay)


def _exempt(ctx: Context) -> bool:
    return ctx.exempt_until is not None and ctx.now < ctx.exempt_until


def _exemption(ctx: Context) -> Decision:
    assert ctx.exempt_until is not None
    return Decision(
        False,
        f"MFA skipped: exempted until {_minute(ctx.exempt_until)} (ticket {ctx.exemption_ticket})",
    )


def _minute(moment: dt.datetime) -> str:
    # One zone for the whole log, whoever reads it: "2026-03-02 13:00 UTC".
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _snoozed(ctx: Context) -> bool:
    return ctx.snoozed_until is not None and ctx.now < ctx.snoozed_until


def decide(ctx: Context) -> Decision:
    if not ctx.has_methods or ctx.registered_at is None:
        # Mandatory registration is a property of the person, decided here for every door:
        # only a "Not now" that still holds lets a person without methods through, never
        # staff (an attacker with a staff password alone must not reach the staff tools).
        must = ctx.staff or not _snoozed(ctx)
        demanded = _demanded(ctx)
        if demanded:
            # A service that always asks (or staff): a person without a method gets nothing
            # with the password alone, exemption or not; the door says to set one up.
            return Decision(
                True,
                f"MFA required: {demanded}, and no sign-in method is registered",
                needs_registration=True,
                must_register=must,
                phishing_resistant=ctx.service_rule == ServiceRule.PHISHING_RESISTANT,
            )
        if _exempt(ctx):
            # An opt-out is not asked to register either.
            return _exemption(ctx)
        if ctx.has_pass:
            # The lost phone was removed before the pass was used: the pass is the second
            # factor now, else the password alone would let anyone who has it register a
            # phone of their own.
            return Decision(
                True,
                "MFA required: the helpdesk issued a temporary access pass",
                needs_registration=True,
                must_register=must,
            )
        return Decision(
            require_mfa=False,
            reason="MFA skipped: no sign-in method registered yet",
            needs_registration=True,
            must_register=must,
        )
    if ctx.service_rule == ServiceRule.PHISHING_RESISTANT or (
        ctx.staff and ctx.staff_phishing_resistant
    ):
        # Before everything that could waive it: an exemption, a trusted network or a
        # remembered browser does not make a code phishing-resistant.
        return Decision(
            True,
            f"MFA required: service {ctx.service} requires phishing-resistant MFA"
            if ctx.service_rule == ServiceRule.PHISHING_RESISTANT
            else "MFA required: staff always use a security key or passkey",
            phishing_resistant=True,
        )
    if ctx.staff:
        # Helpdesk and admin accounts can reach everyone's methods: no service rule, trusted
        # network, exemption, activation delay or remembered browser waives their second factor.
        return Decision(True, "MFA required: staff always use a second factor")
    if ctx.force_mfa:
        return Decision(True, f"MFA required: {_service(ctx)} asked for a second factor")
    if ctx.service_rule == ServiceRule.ALWAYS:
        return Decision(True, f"MFA required: service {ctx.service} requires it always")
    if ctx.service_rule == ServiceRule.NEVER:
        return Decision(False, f"MFA skipped: service {ctx.service} never requires it")
    if _exempt(ctx):
        return _exemption(ctx)
    if ctx.trusted_network is not None:
        return Decision(
            False, f"MFA skipped: {ctx.client_ip} is in trusted network {ctx.trusted_network}"
        )
    start = enforced_from(ctx.registered_at, ctx.activation_delay)
    if ctx.now < start:
        return Decision(
            False,
            f"MFA skipped: enforced from {_minute(start)}, after the activation delay",
        )
    if ctx.remembered_until is not None and ctx.now < ctx.remembered_until:
        return Decision(
            False, f"MFA skipped: this browser is remembered until {_minute(ctx.remembered_until)}"
        )
    return Decision(True, "MFA required: the person has registered methods")


def _demanded(ctx: Context) -> str:
    """Who demands a second factor whatever the network or an exemption, or ""."""
    if ctx.staff:
        return "staff always use a second factor"
    if ctx.service_rule in (ServiceRule.ALWAYS, ServiceRule.PHISHING_RESISTANT):
        return f"service {ctx.service} requires it always"
    if ctx.force_mfa:
        return f"{_service(ctx)} asked for a second factor"
    return ""


def _service(ctx: Context) -> str:
    return f"service {ctx.service}" if ctx.service else "the service"
