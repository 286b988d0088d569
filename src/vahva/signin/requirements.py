"""THE DOOR: whether a request may get an assertion, decided in one place.

An assertion is anything that tells a service who the person is: an OIDC authorization code
or token, a SAML response, a RADIUS Access-Accept, a validation answer, and vahva's own staff
pages. Every path that issues one (GET and POST alike) calls :func:`step_for` with what the
service asks (a :class:`Requirement`) and maps the :class:`Step` it gets back to its protocol:
issue, send the person to sign in (again), to register, or refuse with a message. Protocol
rooms never decide for themselves and never import :mod:`vahva.methods` or
:mod:`vahva.policy`: the policy (service rule, trusted networks, staff, the registration
campaign, exemptions...) is asked here, and nowhere else.

:func:`vahva.signin.door.next_step` is the pure core (no request, no ORM), tested as a table;
the types the protocols use come from there too and are named here for them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import quote

from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from vahva import clock
from vahva.conf import settings
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.policy import Context, campaign, decide, exemptions, trusted
from vahva.policy.decide import ServiceRule

from . import remembered
from .door import Ask, Authentication, Outcome, Presence, Requirement, Step, next_step

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from vahva.accounts.models import User

__all__ = [
    "Authentication",
    "Outcome",
    "Presence",
    "Requirement",
    "ServiceRule",
    "Step",
    "authentication",
    "is_staff",
    "pending",
    "presence_of",
    "request_sign_in",
    "step_for",
]

SESSION_AUTH = "vahva_auth"
SESSION_REQUIREMENT = "vahva_requirement"
#: Set in the session of a person who must register before going anywhere else (the
#: campaign has run out, or staff without a method); cleared once they have a method.
SESSION_MUST_REGISTER = "vahva_must_register"
#: The permission of the helpdesk tools; with ``is_staff`` and ``is_superuser``, what makes a
#: person staff (a second factor always).
HELPDESK_PERMISSION = "helpdesk.access"


# --- the edges: the person, the session, the policy -------------------------------------------


def is_staff(user: User | AnonymousUser) -> bool:
    """Staff: the admin site or the helpdesk tools can reach other people's accounts."""
    return bool(
        getattr(user, "is_staff", False)
        or getattr(user, "is_superuser", False)
        or (getattr(user, "pk", None) is not None and user.has_perm(HELPDESK_PERMISSION))
    )


def policy_context(
    user: User,
    *,
    now: dt.datetime,
    ip: str | None,
    requirement: Requirement | None = None,
    remembered_until: dt.datetime | None = None,
    network: str | None = None,
) -> Context:
    """Everything :func:`vahva.policy.decide` needs to know of ``user`` signing in now."""
    exemption = exemptions.active_for(user, now=now)
    has = methods.has_methods(user)
    rule = ServiceRule.OUTSIDE_TRUSTED if requirement is None else requirement.rule
    if requirement is not None and requirement.phishing_resistant:
        rule = ServiceRule.PHISHING_RESISTANT
    return Context(
        now=now,
        client_ip=ip,
        has_methods=has,
        # A stand-in (the helpdesk's temporary pass) is not a method the person registered.
        has_pass=not has and methods.has_stand_in(user),
        registered_at=methods.first_registered_at(user),
        activation_delay=settings.ACTIVATION_DELAY,
        force_mfa=requirement is not None and requirement.mfa,
        service=requirement.service if requirement else "",
        service_rule=rule,
        trusted_network=network if network is not None else trusted.network_of(ip),
        exempt_until=exemption.expires_at if exemption else None,
        exemption_ticket=exemption.ticket if exemption else "",
        remembered_until=remembered_until,
        staff=is_staff(user),
        staff_phishing_resistant=bool(settings.STAFF_PHISHING_RESISTANT),
        snoozed_until=None if has else campaign.standing(user, now=now).snoozed_until,
    )


def client_ip(request: HttpRequest) -> str | None:
    ip = getattr(request, "client_ip", None) or request.META.get("REMOTE_ADDR")
    return str(ip) if ip else None


def authentication(request: HttpRequest) -> Authentication | None:
    """How and when the signed-in person in this session proved who they are."""
    if not request.user.is_authenticated:
        return None
    auth = request.session.get(SESSION_AUTH) or {}
    at = auth.get("at")
    if not isinstance(at, int | float):
        # Signed in some other way than vahva's sign-in (there is none): not signed in.
        return None
    return Authentication(
        at=dt.datetime.fromtimestamp(at, tz=dt.UTC),
        amr=tuple(str(value) for value in auth.get("amr") or ()),
        method=str(auth.get("method") or ""),
    )


def presence_of(request: HttpRequest, next_url: str = "") -> Presence:
    """The browser session's person, their sign-in, address and remembered browser."""
    signed_in = authentication(request)
    user = request.user if signed_in is not None else None
    earlier = pending(request, next_url) if next_url else None
    return Presence(
        user=user,  # type: ignore[arg-type]
        authentication=signed_in,
        ip=client_ip(request),
        remembered_until=(
            remembered.remembered_until(request, user, now=clock.now()) if user else None
        ),
        requested_at=earlier.at if earlier else None,
        rounds=earlier.round if earlier else 0,
    )


def decide_step(presence: Presence, requirement: Requirement, *, now: dt.datetime) -> Step:
    """The door for a protocol without a browser session (RADIUS, the token endpoint): the
    outcome and, for ISSUE, the authentication to assert. No URL is filled in."""
    user = presence.user
    if user is None or not user.is_active or presence.authentication is None:
        return Step(Outcome.LOGIN_REQUIRED if requirement.passive else Outcome.SIGN_IN)
    # One look at the person for the policy and the step (their methods are read once).
    context = policy_context(
        user,
        now=now,
        ip=presence.ip,
        requirement=requirement,
        remembered_until=presence.remembered_until,
        network=presence.network,
    )
    decision = decide(context)
    ask = Ask(
        fresh=requirement.fresh,
        passive=requirement.passive,
        max_age=requirement.max_age,
        mfa=requirement.mfa or decision.require_mfa,
        has_methods=context.has_methods,
        phishing_resistant=requirement.demands_phishing_resistant or decision.phishing_resistant,
        # From the person's methods as read for the policy (once per request), not a query
        # of its own: the same working methods of known kinds that cannot be relayed.
        has_phishing_resistant=any(
            registry.get(m.kind).phishing_resistant for m in methods.registered_for(user)
        ),
        must_register=decision.must_register,
        requested_at=presence.requested_at,
        rounds=presence.rounds,
    )
    outcome = next_step(presence.authentication, ask, now=now)
    return Step(
        outcome,
        authentication=presence.authentication if outcome == Outcome.ISSUE else None,
        reason=decision.reason,
    )


#: The network a renewal counts as in: where the person was is not known at the token endpoint
#: (the service's server calls it), so what the policy decided of the network at sign-in holds.
AT_SIGN_IN = "as at sign-in"


def renewal_step(
    user: User, signed_in: Authentication, requirement: Requirement, *, now: dt.datetime
) -> Step:
    """The door for renewing an assertion without the person (an OIDC refresh grant).

    The sign-in behind it must still satisfy what the service and the person's standing ask
    now: a service whose rule became *always* or *phishing-resistant*, a person who became
    staff, was disabled, or whose "Not now" ran out gets nothing new from an old password-only
    sign-in. The network and the activation delay are not decided again (unknown here)."""
    presence = Presence(user=user, authentication=signed_in, ip=None, network=AT_SIGN_IN)
    return decide_step(presence, replace(requirement, passive=True), now=now)


def step_for(request: HttpRequest, requirement: Requirement) -> Step:
    """THE DOOR for a browser: may this request get an assertion for ``requirement``?

    Call it on every path that issues one, GET and POST alike, and act on the answer:
    ISSUE (with the authentication to assert), or send the browser to ``step.url``, or show
    ``step.message``. Sending the person to sign in remembers the requirement in the session.
    """
    now = clock.now()
    presence = presence_of(request, requirement.next_url)
    step = decide_step(presence, requirement, now=now)
    if step.outcome == Outcome.SIGN_IN:
        fresh = replace(requirement, fresh=presence.authentication is not None)
        return replace(step, url=request_sign_in(request, fresh))
    if step.outcome == Outcome.REGISTER:
        request.session[SESSION_MUST_REGISTER] = True
        return replace(step, url=_with_next(reverse("registration:start"), requirement.next_url))
    if step.outcome == Outcome.NEED_METHOD:
        return replace(
            step,
            url=_with_next(reverse("registration:setup"), requirement.next_url),
            message=_(
                "%(service)s asks for a second sign-in step, and you have no sign-in method "
                "yet. Set one up, then you can continue."
            )
            % {"service": _service_name(requirement)},
        )
    if step.outcome == Outcome.NEED_PASSKEY:
        # Where the person adds a method that such a service accepts.
        kind = next((m.kind for m in registry.enrolable() if m.phishing_resistant), "")
        add = (
            reverse("registration:enrol", kwargs={"kind": kind})
            if kind
            else reverse("registration:choose")
        )
        return replace(
            step,
            url=_with_next(add, requirement.next_url),
            message=_(
                "%(service)s accepts only a security key or passkey, and you have not added "
                "one. Add one, then you can continue."
            )
            % {"service": _service_name(requirement)},
        )
    if step.outcome == Outcome.REFUSE:
        return replace(
            step,
            message=_(
                "%(service)s asks for a second sign-in step that your sign-in did not include. "
                "Sign in again with one of your methods, or contact the helpdesk."
            )
            % {"service": _service_name(requirement)},
        )
    return step


def _service_name(requirement: Requirement) -> str:
    return requirement.service or _("This service")


def _with_next(url: str, next_url: str) -> str:
    # Encoded: a service's return address has a query of its own (&client_id=...).
    return f"{url}?next={quote(next_url, safe='/')}" if next_url else url


# --- the requirement while the person signs in ------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Pending:
    """A requirement kept in the session while the person signs in for it."""

    requirement: Requirement
    #: When the requirement was set (epoch seconds) and how many times in a row.
    at: float = 0.0
    round: int = 1


def request_sign_in(request: HttpRequest, requirement: Requirement) -> str:
    """Remember what a service asks of the next sign-in; return the sign-in page's URL."""
    previous = pending(request, requirement.next_url)
    rounds = previous.round + 1 if previous is not None else 1
    request.session[SESSION_REQUIREMENT] = {
        **asdict(requirement),
        "at": clock.now().timestamp(),
        "round": rounds,
    }
    return f"{reverse('signin:password')}?{urlencode({'next': requirement.next_url})}"


_FIELDS = {name for name in Requirement.__dataclass_fields__}


def _stored(request: HttpRequest) -> tuple[Requirement, float, int] | None:
    raw = request.session.get(SESSION_REQUIREMENT)
    if not isinstance(raw, dict):
        return None
    try:
        values = {key: value for key, value in raw.items() if key in _FIELDS}
        values["rule"] = ServiceRule(values.get("rule", ServiceRule.OUTSIDE_TRUSTED))
        requirement = Requirement(**values)
        return requirement, float(raw["at"]), int(raw["round"])
    except (TypeError, ValueError, KeyError):
        return None


def pending(request: HttpRequest, next_url: str) -> Pending | None:
    """The requirement a service set for a sign-in that returns to ``next_url``, if any."""
    found = _stored(request)
    if found is None or not next_url or found[0].next_url != next_url:
        return None
    requirement, at, rounds = found
    if clock.now().timestamp() - at > settings.SIGNIN_ATTEMPT_TTL:
        return None
    return Pending(requirement=requirement, at=at, round=rounds)


def return_to(request: HttpRequest) -> str:
    """The service address the pending sign-in ends at ("" when none is pending)."""
    found = _stored(request)
    if found is None:
        return ""
    waiting = pending(request, found[0].next_url)
    return waiting.requirement.return_to if waiting is not None else ""
