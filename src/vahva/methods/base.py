"""The interface every sign-in method implements.

The sign-in engine and the registration wizard only ever talk to a method through this
class; adding a method means one module here, its templates and its tests.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from vahva.errors import MalformedInput

from .models import PendingEnrolment, RegisteredMethod

if TYPE_CHECKING:
    from vahva.accounts.models import User

#: The longest answer a ceremony (the browser's own prompt: WebAuthn JSON) may send, in
#: characters: a bigger one is refused before it is parsed (memory exhaustion).
MAX_CEREMONY_ANSWER = 16_384
#: What a ceremony's answer that cannot be read is told.
CEREMONY_NOT_UNDERSTOOD = _(
    "The answer from your security key or passkey was not understood. Try again, or sign in "
    "another way."
)


class NotOffered(MalformedInput):
    """A change or action the method does not offer (a page for another method's row)."""

    status = 404
    default_message = _("That sign-in method does not offer this.")


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


class Method(ABC):
    #: Short identifier stored in ``RegisteredMethod.kind``.
    kind: ClassVar[str]
    #: What the person calls it, e.g. "Authenticator app".
    label: ClassVar[str | Promise]
    #: One sentence under the label in "Which method would you like to add?".
    description: ClassVar[str | Promise]
    #: The question at sign-in, e.g. "Enter the code from your authenticator app".
    prompt: ClassVar[str | Promise]
    #: RFC 8176 authentication method references this method contributes.
    amr: ClassVar[tuple[str, ...]]
    #: Whether a person can add it from the wizard / Security info.
    enrolable: ClassVar[bool] = True
    #: Shown on Security info and counted as a registered method by the policy (a
    #: temporary access pass is neither: the person must still register a real method).
    listed: ClassVar[bool] = True
    #: The answer is given elsewhere (approved in a phone app), not typed: the sign-in page
    #: polls :meth:`status`, then :meth:`verify` receives the attempt's id as the response.
    waits: ClassVar[bool] = False
    #: :meth:`begin` sends the challenge (a text) for one sign-in attempt: the method can be
    #: asked only inside an attempt that began it (not to confirm a signed-in person).
    sends: ClassVar[bool] = False
    #: Said on the wizard's next page once the method is saved ("SMS verified successfully").
    verified_message: ClassVar[str | Promise] = ""
    #: The answer is the browser's own prompt (a security key or passkey: WebAuthn JSON made
    #: by the page's script), not typed: the forms take a long hidden field instead of a code.
    ceremony: ClassVar[bool] = False
    #: Cannot be phished: the answer is bound to this site's address by the browser, so a
    #: look-alike site cannot relay it (WebAuthn). A service may accept only such methods.
    phishing_resistant: ClassVar[bool] = False
    #: A way back in when the usual methods cannot be used (recovery codes): never the
    #: default, offered under "Sign in another way", never picked to confirm a change.
    fallback: ClassVar[bool] = False
    #: The typed answer has letters: its field must not offer a number pad.
    letters: ClassVar[bool] = False
    #: :meth:`begin` returns a ``number`` that the sign-in must show (number matching): a
    #: client that cannot show it cannot use the method, unless the attempt is approve-only.
    matches_numbers: ClassVar[bool] = False
    #: Its answer is a code the person reads from something they hold (an app, a token), so
    #: a protocol without a browser (the validation API, RADIUS) may check it: see
    #: :meth:`matches`. A texted code is not: it needs a text sent first.
    typed_code: ClassVar[bool] = False
    #: A new enrolment of its wizard step may replace a registered one ("Change number").
    replaceable: ClassVar[bool] = False
    #: Audit actions of its own that end a sign-in (``push.denied``), and the outcome they
    #: are counted as in the sign-ins metric ("denied").
    audited_outcomes: ClassVar[Mapping[str, str]] = {}
    #: The channel label of the texts or calls it sends (the phone-send metrics); "": none.
    send_channel: ClassVar[str] = ""
    #: Its place in the registration wizard; None: reached only by "different method".
    wizard: ClassVar[WizardStep | None] = None

    def wizard_context(self) -> dict[str, Any]:
        """Template data for the method's pages in the wizard (its intro page, if it has one,
        and its enrolment page there)."""
        return {}

    def working(self, registered: RegisteredMethod, *, now: dt.datetime) -> bool:
        """Whether ``registered`` still works (a one-time pass used up does not)."""
        return True

    def device_of(self, registered: RegisteredMethod) -> str | None:
        """The id of the vahva app device that answers for ``registered``, if it is one."""
        return None

    def available(self) -> bool:
        """Whether "Add method" offers it now (hardware tokens: when any are in stock)."""
        return self.enrolable

    def matches(self, registered: RegisteredMethod, code: str, *, now: dt.datetime) -> bool:
        """For :attr:`typed_code` methods: whether ``code`` would be accepted, consuming
        nothing (the caller then verifies the one that matches)."""
        return False

    def security_row(self, registered: RegisteredMethod) -> Include | None:
        """What Security info's row of ``registered`` offers besides "Remove" ("Change
        number"); its forms post to ``registration:method_change``."""
        return None

    def security_notice(self, user: User, *, now: dt.datetime) -> Include | None:
        """A notice at the top of Security info (requests to the app paused)."""
        return None

    def security_section(self, user: User, *, now: dt.datetime) -> Include | None:
        """A card of its own on Security info (how many recovery codes are left)."""
        return None

    def change(
        self, registered: RegisteredMethod, action: str, data: Mapping[str, str]
    ) -> tuple[RegisteredMethod, str]:
        """A change the person asks for on Security info (text <-> call); the registration
        room has checked a recent sign-in and writes the audit row. Returns the method as it
        is now and what was done, in a sentence; a VahvaError changes nothing."""
        raise NotOffered()

    #: For a ceremony: the part of the "Confirm it's you" page that asks for it.
    confirm_template: ClassVar[str] = ""
    #: For a passwordless method: the part of the password page that offers it.
    passwordless_template: ClassVar[str] = ""

    def passwordless_enabled(self) -> bool:
        """Whether it signs a person in with no password here (a discoverable passkey: the
        answer names the person); the password page then offers it."""
        return False

    def passwordless_options(self, *, scope: str, now: dt.datetime) -> dict[str, Any]:
        """What the browser needs to ask for a passwordless answer bound to ``scope`` (one
        browser session)."""
        raise NotOffered()

    def verify_passwordless(self, response: str, *, scope: str, now: dt.datetime) -> Passwordless:
        """Check a passwordless answer made for ``scope``; raises InvalidCode (its owner, when
        known, as ``.subject``) or ReplayedCode."""
        raise NotOffered()

    def helpdesk_section(self, user: User, *, now: dt.datetime) -> HelpdeskSection | None:
        """What the helpdesk's page about ``user`` shows of this method; None: nothing."""
        return None

    def helpdesk_action(
        self, user: User, action: str, data: Mapping[str, str], *, now: dt.datetime
    ) -> str:
        """Do ``action`` of :meth:`helpdesk_section` for ``user`` (the helpdesk room has
        checked the agent, the ticket and writes the audit row). Returns what was done, in a
        sentence; raises a VahvaError for bad input, having changed nothing."""
        raise MalformedInput()

    def amr_for(self, response: str) -> tuple[str, ...]:
        """The RFC 8176 values this ``response`` proves (a method may take more than one
        kind of answer: the vahva app takes an approval or its offline code)."""
        return self.amr

    def added_message(self, registered: RegisteredMethod) -> str:
        """Said on Security info once ``registered`` is saved."""
        return gettext("%(method)s was added.") % {"method": self.describe(registered)}

    def used_message(self, registered: RegisteredMethod) -> str:
        """Said to the person after signing in with ``registered`` ("9 recovery codes
        left"); "" for nothing."""
        return ""

    def describe(self, registered: RegisteredMethod) -> str:
        """One line for Security info, e.g. "Authenticator app (Phone)"."""
        return f"{self.label} ({registered.name})" if registered.name else str(self.label)

    def begin(
        self, registered: RegisteredMethod, *, now: dt.datetime, attempt: AttemptRef | None = None
    ) -> dict[str, Any]:
        """Start a challenge at sign-in (send a code, ring a phone...). Returns template data."""
        return {}

    def status(self, registered: RegisteredMethod, *, attempt: AttemptRef, now: dt.datetime) -> str:
        """For waiting methods: "pending", "approved", "denied" or "expired"."""
        return "pending"

    def status_until(
        self, registered: RegisteredMethod, *, attempt: AttemptRef, now: dt.datetime
    ) -> tuple[str, dt.datetime | None]:
        """:meth:`status`, and when it will change by itself (a request expiring), if known."""
        return self.status(registered, attempt=attempt, now=now), None

    @abstractmethod
    def verify(self, registered: RegisteredMethod, response: str, *, now: dt.datetime) -> None:
        """Accept ``response`` or raise a :class:`vahva.errors.VahvaError`.

        On success the method has already consumed what must not be accepted twice.
        """

    def verify_for(
        self,
        registered: RegisteredMethod,
        response: str,
        *,
        now: dt.datetime,
        attempt: AttemptRef,
    ) -> None:
        """:meth:`verify` inside the sign-in ``attempt``; a method whose challenge belongs to
        one attempt (a texted code) accepts only that attempt's answer."""
        self.verify(registered, response, now=now)

    @abstractmethod
    def start_enrolment(self, user: User, *, now: dt.datetime) -> PendingEnrolment:
        """Create the pending enrolment (secret, QR...) for ``user``."""

    def removed(self, registered: RegisteredMethod, *, now: dt.datetime) -> None:
        """The person (or the helpdesk) removed ``registered``: revoke what it left behind."""
        return None

    def finished(self, user: User, *, attempt: AttemptRef, now: dt.datetime) -> None:
        """The sign-in ``attempt`` of ``user`` was completed (with any method): drop what this
        method still has waiting for it (a request on the phone)."""
        return None

    def enrolment_context(self, pending: PendingEnrolment) -> dict[str, Any]:
        """Template data for the enrolment page (a QR, the secret as text...)."""
        return {}

    def enrolment_action(
        self,
        pending: PendingEnrolment,
        action: str,
        data: Mapping[str, str],
        *,
        now: dt.datetime,
        ip: str | None,
    ) -> PendingEnrolment:
        """A step of the enrolment page before the proof ("Text me a code" to a number,
        "Resend code"). Returns the pending enrolment, whose kind may have changed (the page
        to show next is that kind's). Raises a VahvaError for bad input."""
        raise MalformedInput()

    def enrolment_status(self, pending: PendingEnrolment, *, now: dt.datetime) -> dict[str, Any]:
        """For enrolment pages that wait (a call to answer): {"state": ..., ...}."""
        return {"state": "none"}

    @abstractmethod
    def finish_enrolment(
        self, pending: PendingEnrolment, response: str, *, now: dt.datetime, name: str = ""
    ) -> RegisteredMethod:
        """Check the person's proof and save the method; consume ``pending`` exactly once."""

    # --- the helpdesk verifies a caller (issue #19 item 9) ----------------------------------
    # A caller who lost their phone has no vahva app: the helpdesk's person page offers every
    # way a method has to check that the caller holds what the person registered. The
    # helpdesk room reserves the tries, writes the audit row and names no method.

    def caller_checks(self, user: User, *, now: dt.datetime) -> list[CallerCheck]:
        """The ways ``user``'s registrations of this method can verify a caller; [] for none."""
        return []

    def send_caller_code(
        self, registered: RegisteredMethod, *, check: str, now: dt.datetime
    ) -> str:
        """For a way that :attr:`CallerCheck.sends`: send a code bound to the helpdesk check
        ``check`` (through the outbox, after the caller's commit). Returns what was done, in a
        sentence for the agent; a VahvaError (a limit) sends nothing."""
        raise NotOffered()

    def check_caller(
        self, registered: RegisteredMethod, code: str, *, check: str, now: dt.datetime
    ) -> CallerProof:
        """Whether ``code``, read out by the caller, proves ``registered``: the default takes
        what the method takes at sign-in (:meth:`verify`, so the code is used up: one read to
        the helpdesk cannot be replayed at a sign-in). Raises InvalidCode, ReplayedCode..."""
        from django.utils import translation

        self.verify(registered, code, now=now)
        with translation.override("en"):
            english = self.describe(registered)
        return CallerProof(
            reason=f"a code from {english} read out",
            said=gettext("a code from %(method)s, read out")
            % {"method": self.describe(registered)},
        )

    def caller_check_used(self, registered: RegisteredMethod) -> str:
        """What the person is told when a check used up something of theirs (a recovery
        code read out); "" for nothing."""
        return ""

    # --- what the helpdesk issues (a temporary access pass), and the demo's people (#15) -----

    def issues_passes(self) -> bool:
        """Whether the helpdesk issues this method to a person who cannot use theirs (a
        temporary access pass: :meth:`issue_pass`, :meth:`active_pass`, :meth:`revoke_pass`)."""
        return False

    def issue_pass(
        self,
        user: User,
        *,
        now: dt.datetime,
        ticket: str,
        actor: Any,
        lifetime: int,
        one_time: bool,
        request: Any,
    ) -> tuple[RegisteredMethod, str]:
        """Issue ``user`` a pass for ``ticket`` (audited here); (the method, the pass in clear
        text, shown once)."""
        raise NotOffered()

    def active_pass(self, user: User, *, now: dt.datetime) -> RegisteredMethod | None:
        """``user``'s pass if it still works."""
        return None

    def revoke_pass(self, user: User, *, ticket: str, actor: Any, request: Any) -> bool:
        """End ``user``'s pass now (audited here); False when none was working."""
        raise NotOffered()

    def demo_hint(self, secret: str) -> str:
        """For ``vahva demo``: how the demo's people get codes for ``secret`` ("key … code:
        oathtool …"); "" when this method makes no demo registrations."""
        return ""

    def save_demo(
        self, user: User, *, secret: str, now: dt.datetime, name: str = ""
    ) -> RegisteredMethod:
        """Register ``secret`` for the demo person ``user`` (demo data, printed on purpose)."""
        raise NotOffered()


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
