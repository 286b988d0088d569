"""The hardware token as a sign-in method: the one class the rest of vahva sees."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from vahva.conf import settings
from vahva.errors import AlreadyCompleted, MalformedInput, VahvaError
from vahva.methods import service
from vahva.methods.base import Answer, CallerCheck, HelpdeskSection, Method, WizardStep
from vahva.methods.models import PendingEnrolment, RegisteredMethod

from . import tokens
from .models import KIND, HardwareToken, State

if TYPE_CHECKING:
    from vahva.accounts.models import User


class HardwareTokenMethod(Method):
    kind = KIND
    label = _("Hardware token")
    description = _("A small token from your organisation that shows a code when you press it.")
    prompt = _("Press the button on your token and enter the code it shows")
    # RFC 8176: a one-time password, from a key held in hardware.
    amr = ("otp", "hwk")
    verified_message = _("Your token is ready.")
    answer = Answer.HELD_CODE
    # "App or token": a token satisfies the App step (reached by "different method").
    wizard = WizardStep("app", _("App"))

    def available(self) -> bool:
        # Offered under "Add method" only where the organisation has tokens.
        return HardwareToken.objects.exists()

    def describe(self, registered: RegisteredMethod) -> str:
        serial = registered.data.get("serial", "")
        if registered.name and registered.name != serial:
            return f"{self.label} ({registered.name}, {serial})"
        return f"{self.label} ({serial})"

    def verify(self, registered: RegisteredMethod, response: str, *, now: dt.datetime) -> None:
        token = tokens.token_of(registered)
        tokens.consume(token, tokens.normalise_code(response, token), now=now)
        service.touch(registered, now=now)

    def matches(self, registered: RegisteredMethod, code: str, *, now: dt.datetime) -> bool:
        try:
            token = tokens.token_of(registered)
            tokens.match(token, tokens.normalise_code(code, token), now=now)
        except VahvaError:
            return False
        return True

    def start_enrolment(self, user: User, *, now: dt.datetime) -> PendingEnrolment:
        return service.new_pending(user, self.kind, now=now, ttl=settings.ENROLMENT_TTL)

    def enrolment_action(
        self,
        pending: PendingEnrolment,
        action: str,
        data: Mapping[str, str],
        *,
        now: dt.datetime,
        ip: str | None,
    ) -> PendingEnrolment:
        if action == "again":
            # "Another serial number": back to the first question.
            pending.data = {}
        elif action == "find":
            token = tokens.activatable(pending.user, data.get("serial", ""))
            pending.data = {"serial": token.serial, "digits": token.digits}
        else:
            raise MalformedInput()
        pending.save(update_fields=["data"])
        return pending

    def enrolment_context(self, pending: PendingEnrolment) -> dict[str, Any]:
        return {"serial": pending.data.get("serial", ""), "digits": pending.data.get("digits", 6)}

    def finish_enrolment(
        self, pending: PendingEnrolment, response: str, *, now: dt.datetime, name: str = ""
    ) -> RegisteredMethod:
        if PendingEnrolment.objects.filter(pk=pending.pk, consumed=True).exists():
            # A double-submitted form: the first one activated the token.
            raise AlreadyCompleted()
        serial = pending.data.get("serial")
        if not serial:
            raise MalformedInput(gettext("Enter the serial number printed on the token."))
        return tokens.activate(pending.user, serial, response, now=now, name=name, pending=pending)

    def removed(self, registered: RegisteredMethod, *, now: dt.datetime) -> None:
        # Removed by the person (perhaps lost): retired, so a finder cannot activate it.
        # The helpdesk puts a returned token back in stock (tokens.release).
        # (The method's row is gone by now; the token is found by the serial it carried.)
        HardwareToken.objects.filter(
            serial=registered.data.get("serial", ""), state=State.ACTIVE
        ).update(state=State.RETIRED, registered=None)

    def helpdesk_section(self, user: User, *, now: dt.datetime) -> HelpdeskSection | None:
        if not HardwareToken.objects.exists():
            return None
        return HelpdeskSection(
            "methods/hardware_token/helpdesk.html",
            {"tokens": tokens.tokens_of(user), "kind": self.kind},
        )

    def helpdesk_action(
        self, user: User, action: str, data: Mapping[str, str], *, now: dt.datetime
    ) -> str:
        serial = data.get("serial", "")
        if action == "reserve":
            token = tokens.reserve(user, serial)
            done = gettext(
                "Token %(serial)s is reserved for this person: they activate it on Security info."
            )
        elif action == "release":
            why = data.get("why", "")
            if why not in ("lost", "returned"):
                raise MalformedInput(gettext("Say whether the token was lost or returned."))
            token = tokens.release(user, serial, lost=why == "lost")
            if why == "lost":
                done = gettext("Token %(serial)s is retired: it can never be used again.")
            else:
                done = gettext("Token %(serial)s is back in stock.")
        elif action == "resync":
            first, second = data.get("first", ""), data.get("second", "")
            token = tokens.resynchronise(user, serial, first, second, now=now)
            done = gettext("Token %(serial)s is in step again.")
        else:
            raise MalformedInput()
        return done % {"serial": token.serial}

    # --- the helpdesk verifies a caller (issue #19 item 9) ------------------------------------

    def caller_checks(self, user: User, *, now: dt.datetime) -> list[CallerCheck]:
        return self.codes_read_out(
            user,
            gettext(
                "Ask the caller to press the button on the token with this serial number "
                "and read out the code it shows."
            ),
        )
