"""The helpdesk's actions on a person, each done for a ticket and written to the audit log.

The views parse forms and call these; the rooms that own the data do the work (methods,
devices, passes, exemptions, sessions, the throttle). Every function takes the agent
(``actor``) and the request (for the audit row's address) and checks first that the agent may
act on this person at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q

from vahva.accounts.models import User
from vahva.audit import sentences
from vahva.audit.log import recent_for, record
from vahva.audit.models import AuditEvent
from vahva.audit.tickets import clean_ticket
from vahva.authenticator import service as devices
from vahva.authenticator.models import Device
from vahva.authenticator.service import Pause as PushPause
from vahva.conf import settings
from vahva.errors import MalformedInput
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.models import RegisteredMethod
from vahva.policy import exemptions
from vahva.policy.models import Exemption
from vahva.sessions import service as browser_sessions
from vahva.signin import throttle

from . import passes
from .access import check_may_act
from .errors import UnknownItem, UnknownPerson

#: People one search shows at most: the helpdesk looks someone up, it does not list everyone.
SEARCH_LIMIT = 25
#: The sign-in events the person page shows, newest first: the sign-in log's, so an app's
#: denials and "it wasn't me" reports are there too.
SIGNIN_ACTIONS = tuple(sentences.SIGNIN_ACTIONS)
SIGNINS_SHOWN = 15
#: How far back the person page lists "it wasn't me" reports.
REPORT_DAYS = 30


# --- finding people ------------------------------------------------------------------------


def search(query: str) -> tuple[list[User], bool]:
    """People whose e-mail address or name contains ``query`` (any case), at most
    SEARCH_LIMIT of them; and whether there were more."""
    text = " ".join((query or "").split())
    if not text:
        return [], False
    found = list(
        User.objects.filter(Q(email__icontains=text) | Q(full_name__icontains=text)).order_by(
            "email"
        )[: SEARCH_LIMIT + 1]
    )
    return found[:SEARCH_LIMIT], len(found) > SEARCH_LIMIT


def person(person_id: object) -> User:
    """The person with this id; UnknownPerson for anything else."""
    try:
        pk = int(str(person_id))
    except ValueError:
        raise UnknownPerson() from None
    found = User.objects.filter(pk=pk).first()
    if found is None:
        raise UnknownPerson()
    return found


def viewed(user: User, *, actor: Any, request: Any) -> None:
    """Opening a person's page is itself recorded: who looked at whose sign-in data."""
    record("helpdesk.viewed", subject=user, actor=actor, request=request)


# --- what the person page shows ------------------------------------------------------------


@dataclass(frozen=True)
class MethodRow:
    registered: RegisteredMethod
    label: str


@dataclass(frozen=True)
class Lockout:
    """The state of the person's second-factor throttle (the account key, not the address)."""

    failures: int
    locked: bool
    #: Seconds until the next code may be tried (0: now).
    wait: int

    @property
    def clear(self) -> bool:
        return self.failures == 0


@dataclass(frozen=True)
class ExemptionRow:
    exemption: Exemption
    #: "active", "ended" or "revoked".
    state: str


@dataclass(frozen=True)
class SignInRow:
    event: AuditEvent
    result: str
    #: Why, in a sentence the agent can read out (the recorded reason when unknown).
    why: str
    method: str


def _signin_row(event: AuditEvent) -> SignInRow:
    data = event.data if isinstance(event.data, dict) else {}
    kind = str(data.get("method") or "")
    try:
        method = str(registry.get(kind).label) if kind else ""
    except KeyError:
        method = kind
    words = sentences.describe(
        action=event.action, outcome=event.outcome, reason=event.reason, data=data
    )
    return SignInRow(event, words.label, words.why, method)


@dataclass(frozen=True)
class Overview:
    user: User
    methods: list[MethodRow]
    devices: list[Device]
    active_pass: RegisteredMethod | None
    pass_label: str
    exemptions: list[ExemptionRow]
    active_exemption: Exemption | None
    reports: list[Any]
    held_until: dt.datetime | None
    #: Sign-in requests to the app paused after suspicious attempts (push bombing).
    push_pause: PushPause | None
    lockout: Lockout
    signins: list[SignInRow]


def _mfa_key(user: User) -> tuple[str, throttle.Rule]:
    # The same key the sign-in engine counts wrong codes on (vahva.signin.engine.mfa_keys).
    return f"mfa:acct:{user.pk}", throttle.Rule.from_setting(settings.THROTTLE_MFA_ACCOUNT)


def lockout_of(user: User, *, now: dt.datetime) -> Lockout:
    key, rule = _mfa_key(user)
    # Read, not reserved: looking at the lockout must not count as a try.
    state = throttle.state_of(key, rule, now=now)
    if state.locked:
        return Lockout(state.failures, True, 0)
    return Lockout(state.failures, False, state.retry_after)


def overview(user: User, *, now: dt.datetime) -> Overview:
    listed = methods.listed_for(user)
    active = passes.active(user, now=now)
    rows = [
        ExemptionRow(
            e,
            "revoked" if e.revoked_at else ("active" if e.expires_at > now else "ended"),
        )
        for e in exemptions.of(user)
    ]
    return Overview(
        user=user,
        methods=[MethodRow(m, registry.get(m.kind).describe(m)) for m in listed],
        devices=devices.devices_of(user),
        active_pass=active,
        pass_label=passes.label(active) if active else "",
        exemptions=rows,
        active_exemption=exemptions.active_for(user, now=now),
        reports=devices.reports_of(user, since=now - dt.timedelta(days=REPORT_DAYS)),
        held_until=devices.held_until(user, now=now),
        push_pause=devices.pause_of(user, now=now),
        lockout=lockout_of(user, now=now),
        signins=[
            _signin_row(event)
            for event in recent_for(user, actions=SIGNIN_ACTIONS, limit=SIGNINS_SHOWN)
        ],
    )


# --- actions -------------------------------------------------------------------------------


def check_caller(
    user: User, *, ticket: str, now: dt.datetime, actor: Any, request: Any
) -> devices.HelpdeskCheck:
    """Send the person's app "The helpdesk is checking it's you"; the agent reads the number
    out and the caller types it in."""
    check_may_act(actor, user)
    ticket = clean_ticket(ticket)
    check = devices.push_for_helpdesk(user, now=now, ticket=ticket, agent=actor)
    record(
        "helpdesk.check_sent",
        subject=user,
        actor=actor,
        request=request,
        ticket=ticket,
        challenge=str(check.id),
    )
    return check


def method_of(user: User, method_id: object) -> MethodRow:
    """One of the methods the person page lists (never the pass: it has its own form)."""
    try:
        registered = methods.get_for(user, method_id)
    except MalformedInput:
        raise UnknownItem() from None
    method = registry.get(registered.kind)
    if not method.listed:
        raise UnknownItem()
    return MethodRow(registered, method.describe(registered))


def remove_method(user: User, method_id: object, *, ticket: str, actor: Any, request: Any) -> str:
    """Remove one of the person's methods (an app's device is revoked with it); its label."""
    check_may_act(actor, user)
    ticket = clean_ticket(ticket)
    row = method_of(user, method_id)
    methods.remove(user, row.registered.pk)
    record(
        "helpdesk.method_removed",
        subject=user,
        actor=actor,
        request=request,
        ticket=ticket,
        method=row.registered.kind,
        method_id=row.registered.pk,
        label=row.label,
    )
    return row.label


def device_of(user: User, device_id: object) -> Device:
    wanted = str(device_id)
    found = next((d for d in devices.devices_of(user) if str(d.pk) == wanted), None)
    if found is None:
        raise UnknownItem()
    return found


def methods_of_device(user: User, device: Device) -> list[RegisteredMethod]:
    """The person's vahva app method(s) answered by ``device``."""
    return methods.on_device(user, device.pk)


def leaves_no_method(user: User, method_ids: list[int]) -> bool:
    """Whether removing ``method_ids`` would leave the person without a method: they would
    then sign in with the password alone until they register one (the policy's campaign)."""
    listed = methods.listed_for(user)
    return bool(listed) and all(m.pk in method_ids for m in listed)


def remove_device(
    user: User, device_id: object, *, ticket: str, now: dt.datetime, actor: Any, request: Any
) -> str:
    """Remove one of the person's app devices: its key is refused from now on, and its method
    goes too, so Security info no longer lists it. The device's name."""
    check_may_act(actor, user)
    ticket = clean_ticket(ticket)
    device = device_of(user, device_id)
    own = methods_of_device(user, device)
    with transaction.atomic():
        for registered in own:
            # The method's removal hook revokes the device as well.
            methods.remove(user, registered.pk)
        # A device still being enrolled has no method yet: revoked directly.
        devices.remove_device_of(user, device.pk, now=now)
    record(
        "helpdesk.device_removed",
        subject=user,
        actor=actor,
        request=request,
        ticket=ticket,
        device=str(device.pk),
        device_name=device.name,
        method_ids=[m.pk for m in own],
    )
    return device.name


def grant_exemption(
    user: User,
    *,
    ticket: str,
    reason: str,
    expires_at: dt.datetime,
    now: dt.datetime,
    actor: Any,
    request: Any,
) -> Exemption:
    check_may_act(actor, user)
    return exemptions.grant(
        user,
        ticket=clean_ticket(ticket),
        reason=reason,
        expires_at=expires_at,
        now=now,
        actor=actor,
        request=request,
    )


def exemption_of(user: User, exemption_id: object) -> Exemption:
    found = next((e for e in exemptions.of(user) if str(e.pk) == str(exemption_id)), None)
    if found is None:
        raise UnknownItem()
    return found


def revoke_exemption(
    user: User, exemption_id: object, *, ticket: str, now: dt.datetime, actor: Any, request: Any
) -> Exemption:
    check_may_act(actor, user)
    exemption = exemption_of(user, exemption_id)
    return exemptions.revoke(
        user, exemption.pk, ticket=clean_ticket(ticket), now=now, actor=actor, request=request
    )


def sign_out_everywhere(user: User, *, ticket: str, actor: Any, request: Any) -> None:
    """End every session of the person (other rooms forget remembered browsers and tokens)."""
    check_may_act(actor, user)
    ticket = clean_ticket(ticket)
    # The same function as Security info's sign-outs: each session audited, its tokens revoked.
    browser_sessions.end_everywhere(
        user, actor=actor, request=request, reason=f"signed out by the helpdesk ({ticket})"
    )
    record("helpdesk.signed_out", subject=user, actor=actor, request=request, ticket=ticket)


def clear_lockout(user: User, *, ticket: str, now: dt.datetime, actor: Any, request: Any) -> int:
    """Forget the person's wrong second-factor codes (a lockout or a slow-down); how many."""
    check_may_act(actor, user)
    ticket = clean_ticket(ticket)
    before = lockout_of(user, now=now)
    key, _rule = _mfa_key(user)
    throttle.clear([key])
    record(
        "helpdesk.unlocked",
        subject=user,
        actor=actor,
        request=request,
        ticket=ticket,
        failures=before.failures,
        was_locked=before.locked,
    )
    return before.failures
