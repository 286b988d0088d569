"""The small values a method and the rooms around it exchange: where it stands in the
wizard, what it adds to another room's page, the sign-in attempt it serves, a passwordless
answer and the helpdesk's caller checks. Re-exported by :mod:`vahva.methods.base`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise

from .models import RegisteredMethod


@dataclass(frozen=True)
class WizardStep:
    """Where a method stands in the registration wizard ("Keep your account secure").

    Methods with the same ``slug`` satisfy the same step; the ``lead`` one opens it with its
    own ``template`` (an introduction page) or, without one, with its enrolment page; the
    others are reached from there ("I want to use a different authenticator app") or by
    "different method"."""

    slug: str
    #: The step's tab ("App", "Phone"), as its lead method names it.
    tab: str | Promise
    lead: bool = False
    #: An introduction page before the enrolment page; "": the step opens on enrolment.
    template: str = ""


@dataclass(frozen=True)
class Include:
    """What a method adds to a page of another room: a template included there (as
    ``section``, with ``section.context``) and its data."""

    template: str
    context: Mapping[str, Any]


#: On the helpdesk's page about a person; its forms post to ``helpdesk:method_action``.
HelpdeskSection = Include


@dataclass(frozen=True)
class Passwordless:
    """A verified passwordless answer: the method that answered, and what it proved."""

    registered: RegisteredMethod
    amr: tuple[str, ...]


@dataclass(frozen=True)
class AttemptRef:
    """The sign-in attempt a challenge serves, as far as a method may know it (methods know
    no sign-in): its id, the browser's address and the service signed in to."""

    id: str
    ip: str | None = None
    service: str = ""
    #: The person asked for the challenge again ("Resend code", "Call again").
    resend: bool = False
    #: The organisation's trusted network the address is in ("Campus"), found by the caller
    #: (methods decide nothing about networks); None: outside them, or unknown.
    trusted_network: str | None = None
    #: The sign-in can show a number for the person to type in the app (number matching);
    #: False only for a RADIUS client in wait mode that opted in to approve-only pushes.
    number_matching: bool = True


@dataclass(frozen=True)
class CallerCheck:
    """One way to verify a caller, as the helpdesk's person page offers it."""

    #: The registration it checks (its id travels in the form, looked up by person).
    registered: int
    #: The button or heading: "Text a code to +358 40 *** **23".
    label: str
    #: What the agent tells the caller to do, in a sentence.
    hint: str
    #: The agent first sends a code (a text, a call); otherwise the caller reads one out from
    #: something they hold (an authenticator app, a token, their printed recovery codes).
    sends: bool = False
    #: Reading the code out uses it up (a recovery code): the page says so before.
    consumes: bool = False


@dataclass(frozen=True)
class CallerProof:
    """A caller verified: how, for the audit log (English, stable) and for the page."""

    #: "a code texted to +358 40 *** **23": the audit row's reason after "caller verified: "
    #: (the sentences of :mod:`vahva.audit.sentences` translate it for the logs).
    reason: str
    #: The same, translated, for the agent's page.
    said: str
