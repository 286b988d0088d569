"""The vahva app: approve a push on the phone, typing the number the sign-in page shows.

One registered method per device (``data["device"]`` is the device id, the name is the
device's). A sign-in push goes to every active device of the person; the first answer wins.
The protocol (keys, signatures, challenges) lives in :mod:`vahva.authenticator`; this module
plugs it into the method interface:

- ``begin`` sends the attempt's push (or shows the one already waiting) and returns its number;
  within the person's allowance of requests (one waiting at a time, a few per window: a newer
  sign-in is told that one is waiting), and not at all while they are paused after suspicious
  attempts (the page then asks for the app's offline code);
- ``status`` is what the waiting page polls;
- ``verify`` receives the attempt's id (from the browser session, never from the browser) and
  uses that attempt's approval, once; or a 6-digit code from the app's offline code (TOTP,
  with the app's own secret, kept in the registered method and checked like any TOTP).

Enrolment: ``start_enrolment`` makes a one-time link; the device enrols with it and gets a test
notification at once; the enrolment page shows its number ("Let's try it out"); the response
that finishes the enrolment is the approved test's id.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from vahva import clock
from vahva.audit.log import recent_for
from vahva.authenticator import protocol as authenticator_protocol
from vahva.authenticator import service as authenticator
from vahva.authenticator.errors import PushPaused
from vahva.conf import settings
from vahva.errors import MalformedInput

from . import service, totp
from .base import AttemptRef, Include, Method, WizardStep
from .models import PendingEnrolment, RegisteredMethod
from .totp import qr_data_uri

if TYPE_CHECKING:
    from vahva.accounts.models import User

ENROL_PATH = "/app/enroll"


def enrolment_link(code: str) -> str:
    """The QR's link: the code rides in the fragment, which never reaches a server log."""
    return f"{str(settings.PUBLIC_URL).rstrip('/')}{ENROL_PATH}#{code}"


def pushes_held_until(user: User) -> dt.datetime | None:
    """Until when sign-in requests to the person's app are held after "Deny and report"."""
    return authenticator.held_until(user, now=clock.now())


def push_pause_of(user: User) -> authenticator.Pause | None:
    """The pause of sign-in requests to the person's app after suspicious attempts (push
    bombing), while it lasts: the sign-in asks for a typed code until ``.until``."""
    return authenticator.pause_of(user, now=clock.now())


class AppPushMethod(Method):
    kind = "app_push"
    label = _("vahva app")
    description = _("Approve sign-ins with a notification in the vahva app on your phone.")
    prompt = _("Approve the sign-in request in the vahva app")
    # RFC 8176 "swk": proof of possession of a software-secured key (the app's ECDSA key).
    amr = ("swk",)
    waits = True
    matches_numbers = True
    typed_code = True
    audited_outcomes = {"push.denied": "denied", "push.reported": "reported"}
    # The App step opens on the enrolment page: its QR both opens the app (on a phone
    # without it) and adds the account, so there is no "get the app" page before it.
    wizard = WizardStep("app", _("App"), lead=True)

    def device_of(self, registered: RegisteredMethod) -> str | None:
        device = registered.data.get("device")
        return str(device) if device is not None else None

    def security_notice(self, user: User, *, now: dt.datetime) -> Include | None:
        # "It wasn't me" answers: the person sees them here, the helpdesk got an e-mail.
        reports = recent_for(user, actions=("push.reported",), limit=5)
        # Push bombing: requests to the app paused, a typed code asked instead (until when).
        pause = authenticator.pause_of(user, now=now)
        if not reports and pause is None:
            return None
        return Include(
            "methods/app_push/_security_notice.html",
            {
                "reports": reports,
                "held_until": authenticator.held_until(user, now=now),
                "pause": pause,
            },
        )

    @staticmethod
    def _devices(user: User) -> list[object]:
        return [
            m.data.get("device")
            for m in RegisteredMethod.objects.filter(user=user, kind=AppPushMethod.kind)
        ]

    def begin(
        self, registered: RegisteredMethod, *, now: dt.datetime, attempt: AttemptRef | None = None
    ) -> dict[str, Any]:
        if attempt is None:
            raise MalformedInput()
        devices = self._devices(registered.user)
        try:
            push = authenticator.push_for_attempt(
                registered.user,
                attempt=attempt.id,
                device_ids=devices,
                now=now,
                context={
                    "ip": attempt.ip,
                    "service": attempt.service,
                    "location": authenticator_protocol.coarse_location(attempt.ip),
                    "outside": attempt.trusted_network is None,
                },
                # Approve-only when the sign-in cannot show the number (a VPN in RADIUS wait
                # mode, opted in); every other sign-in keeps number matching.
                match="number" if attempt.number_matching else "none",
            )
        except PushPaused as paused:
            # Push bombing: no request is sent; the page asks for the app's offline code (the
            # phone in hand, which the thief does not have) or another method, and says why.
            return {"paused_until": paused.until}
        # The request goes to every device: the page says so when there are several.
        return {"number": push.number, "expires_at": push.expires_at, "devices": len(devices)}

    def status(self, registered: RegisteredMethod, *, attempt: AttemptRef, now: dt.datetime) -> str:
        return self.status_until(registered, attempt=attempt, now=now)[0]

    def status_until(
        self, registered: RegisteredMethod, *, attempt: AttemptRef, now: dt.datetime
    ) -> tuple[str, dt.datetime | None]:
        return authenticator.attempt_state_until(registered.user_id, attempt.id, now=now)

    @staticmethod
    def _is_code(response: str) -> bool:
        return len(response.strip()) < 32

    def matches(self, registered: RegisteredMethod, code: str, *, now: dt.datetime) -> bool:
        # The app's offline code (its own TOTP secret), for protocols that cannot wait.
        return totp.code_matches(registered.secret, code, now=now)

    def amr_for(self, response: str) -> tuple[str, ...]:
        # The offline code is a one-time password (RFC 8176 "otp"), not the app's key.
        return ("otp",) if self._is_code(response) else self.amr

    def verify(self, registered: RegisteredMethod, response: str, *, now: dt.datetime) -> None:
        if self._is_code(response):
            code = totp.normalise_code(response)
            # The request went to every app device of the person, so the offline code of any of
            # them is theirs (a second phone, a tablet): the one whose code it is answers.
            owner = self._device_with_code(registered, code, now=now)
            if not owner.secret:
                raise MalformedInput()
            step = totp.match_step(owner.secret, code, now=now)
            # Replay: the same step is never accepted twice (conditional UPDATE).
            service.advance_counter(owner, step, now=now)
            if owner.pk != registered.pk:
                service.touch(owner, now=now)
            return
        attempt = service.parse_uuid(response)
        device = authenticator.use_attempt_approval(registered.user, attempt, now=now)
        # "Last used" goes to the device that answered (the push went to all of them).
        answered = (
            RegisteredMethod.objects.filter(
                user=registered.user, kind=self.kind, data__device=str(device.pk)
            ).first()
            or registered
        )
        service.touch(answered, now=now)
        if answered.pk == registered.pk:
            registered.last_used_at = now

    def _device_with_code(
        self, registered: RegisteredMethod, code: str, *, now: dt.datetime
    ) -> RegisteredMethod:
        """The person's app method whose offline code ``code`` is now (pure checks); else
        ``registered``, so a wrong code is refused (and counted once) as before. Each device
        adds its three valid codes to a guess's chances, as a second authenticator would."""
        if totp.code_matches(registered.secret, code, now=now):
            return registered
        # Only then the person's other devices (no query when the default one answered).
        others = RegisteredMethod.objects.filter(
            user_id=registered.user_id, kind=self.kind
        ).exclude(pk=registered.pk)
        found = (m for m in others if totp.code_matches(m.secret, code, now=now))
        return next(found, registered)

    def verify_for(
        self,
        registered: RegisteredMethod,
        response: str,
        *,
        now: dt.datetime,
        attempt: AttemptRef,
    ) -> None:
        self.verify(registered, response, now=now)
        if self._is_code(response):
            # Signed in with the app's offline code: the request still waiting on the phone
            # is withdrawn (nobody is left to approve it, and it would hold the next sign-in).
            authenticator.withdraw_attempt(registered.user, attempt.id, now=now)

    def finished(self, user: User, *, attempt: AttemptRef, now: dt.datetime) -> None:
        # Signed in another way (a code, a key, a text): the request still waiting on the
        # phone is withdrawn. Left there it would expire "ignored" and count as a suspicious
        # attempt against the person, and hold their next sign-in.
        authenticator.withdraw_attempt(user, attempt.id, now=now)

    def removed(self, registered: RegisteredMethod, *, now: dt.datetime) -> None:
        authenticator.remove_device_of(registered.user_id, registered.data.get("device"), now=now)

    def start_enrolment(self, user: User, *, now: dt.datetime) -> PendingEnrolment:
        with transaction.atomic():
            pending = service.new_pending(user, self.kind, now=now, ttl=settings.ENROLMENT_TTL)
            # The code is shown again on reload, so the pending enrolment keeps it (encrypted
            # at rest); the authenticator room keeps only its hash.
            pending.secret = authenticator.create_enrolment_link(
                user, enrolment=pending.pk, now=now, ttl=settings.ENROLMENT_TTL
            )
            pending.save(update_fields=["secret"])
        return pending

    def enrolment_context(self, pending: PendingEnrolment) -> dict[str, Any]:
        link = enrolment_link(pending.secret)
        # Reloading the page is "Send another request" once a test was denied or expired.
        status = authenticator.enrolment_status(
            pending.user, pending.pk, now=clock.now(), resend=not pending.consumed
        )
        return {"qr": qr_data_uri(link), "link": link, "status": status}

    def finish_enrolment(
        self, pending: PendingEnrolment, response: str, *, now: dt.datetime, name: str = ""
    ) -> RegisteredMethod:
        test = service.parse_uuid(response)
        with transaction.atomic():
            service.consume_pending(pending, now=now)
            # The test notification approved on the device, with the right number, used once;
            # any failure rolls the pending enrolment back to unused.
            device = authenticator.finish_test(pending.user, pending.pk, test, now=now)
            saved = service.save_new(
                pending.user,
                self.kind,
                now=now,
                name=name or device.name,
                secret=device.totp_secret,
                data={"device": str(device.pk)},
            )
            # One copy of the offline code's secret: the registered method's.
            authenticator.forget_totp_secret(device)
            return saved
