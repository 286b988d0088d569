"""The policy decision, free of requests and the ORM so it can be tested as a table.

The context says whether the person has registered a method and since when (MFA is enforced
``ACTIVATION_DELAY`` seconds after registration, as in the seed's organisation), what the
service asks, and which trusted network the address is in (found by the caller with
:mod:`vahva.policy.trusted`). Exemptions and remembered devices extend :class:`Context`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


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
    #: The service's MFA rule: one of :data:`SERVICE_RULES`.
    service_rule: str = "outside_trusted"
    #: The name of the trusted network ``client_ip`` is in ("Campus"), or None.
    trusted_network: str | None = None
    #: The end of the helpdesk's exemption in force, and its ticket (None: not exempted).
    exempt_until: dt.datetime | None = None
    exemption_ticket: str = ""
    #: Until when this browser is remembered for the person ("Don't ask again"), or None.
    remembered_until: dt.datetime | None = None
    #: The helpdesk has issued the person a temporary access pass that still works.
    has_pass: bool = False


#: Per-service MFA rules: always, only outside the organisation's trusted networks, never,
#: and always with a phishing-resistant method (a security key or passkey: NIST AAL3).
SERVICE_RULES = ("always", "outside_trusted", "never", "phishing_resistant")


@dataclass(frozen=True)
class Decision:
    require_mfa: bool
    #: Why, in plain English for the sign-in log and the helpdesk.
    reason: str
    #: The person has no method yet and should be sent to the setup wizard.
    needs_registration: bool = False
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


def decide(ctx: Context) -> Decision:
    if not ctx.has_methods or ctx.registered_at is None:
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
            )
        return Decision(
            require_mfa=False,
            reason="MFA skipped: no sign-in method registered yet",
            needs_registration=True,
        )
    if ctx.service_rule == "phishing_resistant":
        # Before everything that could waive it: an exemption, a trusted network or a
        # remembered browser does not make a code phishing-resistant.
        return Decision(
            True,
            f"MFA required: service {ctx.service} requires phishing-resistant MFA",
            phishing_resistant=True,
        )
    if ctx.force_mfa:
        return Decision(True, f"MFA required: {_service(ctx)} asked for a second factor")
    if ctx.service_rule == "always":
        return Decision(True, f"MFA required: service {ctx.service} requires it always")
    if ctx.service_rule == "never":
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


def _service(ctx: Context) -> str:
    return f"service {ctx.service}" if ctx.service else "the service"
