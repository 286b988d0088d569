"""The interface every sign-in method implements.

The sign-in engine and the registration wizard only ever talk to a method through this
class; adding a method means one module here, its templates and its tests.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from vahva.errors import MalformedInput

from .challenges import ANSWERED_ELSEWHERE as ANSWERED_ELSEWHERE
from .challenges import HELD_CODES as HELD_CODES
from .challenges import ON_THE_PAGE as ON_THE_PAGE
from .challenges import Answer as Answer
from .challenges import Challenge, TypeCode
from .challenges import Role as Role
from .models import PendingEnrolment, RegisteredMethod
from .parts import AttemptRef as AttemptRef
from .parts import CallerCheck as CallerCheck
from .parts import CallerProof as CallerProof
from .parts import HelpdeskSection as HelpdeskSection
from .parts import Include as Include
from .parts import Passwordless as Passwordless
from .parts import WizardStep as WizardStep

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
    #: What it takes at sign-in (a code, a credential, an approval): one declaration that
    #: the forms and the protocols without a browser read, instead of several flags.
    answer: ClassVar[Answer] = Answer.HELD_CODE
    #: Its place among the person's methods: an ordinary one, a way back in, or a stand-in.
    role: ClassVar[Role] = Role.METHOD
    #: Said on the wizard's next page once the method is saved ("SMS verified successfully").
    verified_message: ClassVar[str | Promise] = ""
    #: Cannot be phished: the answer is bound to this site's address by the browser, so a
    #: look-alike site cannot relay it (WebAuthn). A service may accept only such methods.
    phishing_resistant: ClassVar[bool] = False
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

    @property
    def listed(self) -> bool:
        """Shown on Security info and counted as a registered method (not a stand-in)."""
        return self.role is not Role.STAND_IN

    def available(self) -> bool:
        """Whether "Add method" offers it now (hardware tokens: when any are in stock); a
        stand-in is never set up by the person."""
        return self.role is not Role.STAND_IN

    def matches(self, registered: RegisteredMethod, code: str, *, now: dt.datetime) -> bool:
        """For methods whose answer is a held code: whether ``code`` would be accepted, consuming
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
    ) -> Challenge:
        """Start a challenge at sign-in (send a code, ring a phone...): what the person must
        do now. Raises a VahvaError when it cannot be asked at all (a used-up pass)."""
        return TypeCode(letters=self.answer is Answer.LETTERS)

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

    def answered_also_by(self, registered: RegisteredMethod) -> tuple[str, ...]:
        """The kinds of other methods that can answer for ``registered`` at sign-in (a number
        registered for texts can be called too): "Sign in another way" offers them."""
        return ()

    def held_until(self, user: User, *, now: dt.datetime) -> dt.datetime | None:
        """Until when this method asks nothing of ``user`` (requests to the app held after
        "Deny and report"): "Sign in another way" does not offer it meanwhile."""
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

    def codes_read_out(self, user: User, hint: str) -> list[CallerCheck]:
        """For :meth:`caller_checks`: one check per registration of this method whose code the
        caller reads out from what they hold (an app, a token), with ``hint`` for the agent."""
        from . import service

        return [
            CallerCheck(
                registered=registered.pk,
                label=gettext("A code from %(method)s") % {"method": self.describe(registered)},
                hint=hint,
            )
            for registered in service.registered_for(user)
            if registered.kind == self.kind
        ]

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
