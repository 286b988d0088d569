"""The helpdesk's caller check: "The helpdesk is checking it's you" sent to the person's app;
the agent reads the number out, the person types it in. It signs nobody in."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _

from vahva.conf import settings
from vahva.errors import RateLimited

from . import protocol
from .errors import NoDevice, UnknownChallenge
from .models import Device, PushChallenge
from .sending import as_uuid, latest, new_challenge

if TYPE_CHECKING:
    from vahva.accounts.models import User

State = PushChallenge.State
#: Seconds a helpdesk check waits for its answer: the agent reads the number out on the phone
#: and the person has to find and open the app first.
HELPDESK_CHECK_TTL = 180
#: Helpdesk checks one person may get within HELPDESK_CHECK_WINDOW seconds: a caller (or an
#: agent talked into it) cannot wear the real person down with request after request.
MAX_HELPDESK_CHECKS = 3
HELPDESK_CHECK_WINDOW = 15 * 60


@dataclass(frozen=True)
class HelpdeskCheck:
    """Where a helpdesk check is, for the agent's page: "pending", "approved", "denied",
    "reported" ("I'm not the caller") or "expired"; the number to read out while pending."""

    id: uuid.UUID
    state: str
    number: int
    created_at: dt.datetime
    expires_at: dt.datetime
    #: The name of the device that answered ("" while nobody has).
    device: str = ""
    answered_at: dt.datetime | None = None
    #: The helpdesk ticket it was sent for.
    ticket: str = ""

    @property
    def pending(self) -> bool:
        return self.state == State.PENDING


def _check_of(challenge: PushChallenge, *, now: dt.datetime) -> HelpdeskCheck:
    state = protocol.effective_state(challenge.state, expires_at=challenge.expires_at, now=now)
    # An approval counts only with the number the agent read out (checked again here).
    if state == State.APPROVED and challenge.answered_number != challenge.number:
        state = State.DENIED
    device = challenge.answered_by
    return HelpdeskCheck(
        id=challenge.pk,
        state=str(state),
        number=challenge.number,
        created_at=challenge.created_at,
        expires_at=challenge.expires_at,
        device=device.name if device is not None else "",
        answered_at=challenge.answered_at,
        ticket=str((challenge.context or {}).get("ticket") or ""),
    )


def push_for_helpdesk(
    user: User, *, now: dt.datetime, ticket: str, agent: Any = None
) -> HelpdeskCheck:
    """Send "The helpdesk is checking it's you" to every active device of ``user`` (or give
    back the check still waiting); NoDevice when there is none, RateLimited after
    MAX_HELPDESK_CHECKS checks within HELPDESK_CHECK_WINDOW seconds."""
    mine = PushChallenge.objects.filter(user=user, purpose=PushChallenge.Purpose.HELPDESK)
    waiting = latest(mine.filter(state=State.PENDING, expires_at__gt=now))
    if waiting is not None:
        # A double click sends one request: the number on the agent's page stays the same.
        return _check_of(waiting, now=now)
    devices = list(Device.objects.filter(user=user, status=Device.Status.ACTIVE))
    if not devices:
        raise NoDevice(_("This person has no vahva app that could receive the request."))
    since = now - dt.timedelta(seconds=HELPDESK_CHECK_WINDOW)
    recent = list(mine.filter(created_at__gt=since).order_by("created_at"))
    if len(recent) >= MAX_HELPDESK_CHECKS:
        # Push fatigue: no endless stream of checks for a tired thumb to approve at last.
        retry = (recent[0].created_at - since).total_seconds()
        raise RateLimited(
            retry,
            _("Too many checks were sent to this person. Try again later, or check another way."),
        )
    challenge = new_challenge(
        user.pk,
        purpose=PushChallenge.Purpose.HELPDESK,
        devices=devices,
        now=now,
        context={"ticket": str(ticket)[:64], "agent": getattr(agent, "pk", None)},
        ttl=max(HELPDESK_CHECK_TTL, settings.PUSH_TTL),
    )
    return _check_of(challenge, now=now)


def helpdesk_check_of(user: User, check: object, *, now: dt.datetime) -> HelpdeskCheck:
    """The helpdesk check ``check`` of ``user``; UnknownChallenge for anything else (another
    person's check, a sign-in push, a mangled id)."""
    pk = as_uuid(check, UnknownChallenge())
    found = (
        PushChallenge.objects.filter(pk=pk, user=user, purpose=PushChallenge.Purpose.HELPDESK)
        .select_related("answered_by")
        .first()
    )
    if found is None:
        raise UnknownChallenge()
    return _check_of(found, now=now)
