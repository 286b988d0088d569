"""Security keys and passkeys (WebAuthn): the browser's own prompt, bound to this site.

- Enrolment: :meth:`WebAuthnMethod.start_enrolment` keeps a random challenge in the pending
  enrolment (used once with it); the page asks the browser to create a credential, excluding
  the person's registered ones; :meth:`finish_enrolment` verifies it (py_webauthn) and keeps
  the credential id (indexed by its SHA-256), public key, sign count, transports, backup
  flags and AAGUID in :class:`WebAuthnCredential`. User verification is "preferred": a plain
  security key without a PIN is a fine second factor.
- Second factor: :meth:`begin` makes a challenge bound to the sign-in attempt (or, without
  one, to confirming a signed-in person), valid for CHALLENGE_TTL seconds and used once; any
  of the person's keys may answer, and "last used" goes to the one that did.
- Passwordless (when the deployment enables it): :func:`passkey_options` and
  :func:`verify_passkey`, for a discoverable credential with user verification "required":
  the passkey names its owner, and possession plus the PIN or biometric it checked is
  multi-factor on its own.

The checks of the answer itself are in :mod:`.checks`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from vahva.conf import settings
from vahva.errors import ExpiredChallenge
from vahva.methods import service
from vahva.methods.base import Answer, AttemptRef, Method, Passwordless
from vahva.methods.challenges import Ceremony
from vahva.methods.models import PendingEnrolment, RegisteredMethod

from .checks import (
    amr_of,
    check_registration,
    flags_of,
)
from .models import WebAuthnCredential

if TYPE_CHECKING:
    from vahva.accounts.models import User

from .ceremony import (
    CHALLENGE_BYTES,
    CHALLENGE_TTL,
    KIND,
    AlreadyRegistered,
    creation_options,
    credentials_of,
    new_challenge,
    passkey_options,
    passkey_signin_enabled,
    request_options,
    user_handle,
    verify_assertion,
    verify_passkey,
)

__all__ = [
    "CHALLENGE_TTL",
    "AlreadyRegistered",
    "WebAuthnMethod",
    "passkey_options",
    "user_handle",
    "verify_passkey",
]


class WebAuthnMethod(Method):
    kind = KIND
    label = _("Security key or passkey")
    description = _(
        "Touch a security key, or unlock with your device's fingerprint, face or PIN. It works "
        "only on this site, so a fake sign-in page cannot use it."
    )
    prompt = _("Use your security key or passkey")
    # Refined per answer by amr_for: "hwk"/"swk", and "user" when the person was verified.
    amr = ("hwk",)
    answer = Answer.CREDENTIAL
    phishing_resistant = True
    verified_message = _("Security key or passkey added")

    confirm_template = "methods/webauthn/_confirm.html"
    passwordless_template = "methods/webauthn/_passwordless.html"

    def passwordless_enabled(self) -> bool:
        return passkey_signin_enabled()

    def passwordless_options(self, *, scope: str, now: dt.datetime) -> dict[str, Any]:
        return passkey_options(scope=scope, now=now)

    def verify_passwordless(self, response: str, *, scope: str, now: dt.datetime) -> Passwordless:
        used = verify_passkey(response, scope=scope, now=now)
        return Passwordless(used.registered, used.amr)

    def amr_for(self, response: str) -> tuple[str, ...]:
        user_verified, backup_eligible = flags_of(response)
        return amr_of(user_verified=user_verified, backup_eligible=backup_eligible)

    # --- sign-in ---------------------------------------------------------------------------

    def begin(
        self, registered: RegisteredMethod, *, now: dt.datetime, attempt: AttemptRef | None = None
    ) -> Ceremony:
        scope = attempt.id if attempt is not None else ""
        challenge = new_challenge(registered.user, scope, now=now)
        # Any of the person's keys may answer: the one at hand is the one they use.
        allow = credentials_of(registered.user)
        return Ceremony(
            options=request_options(challenge, allow=allow, user_verification="preferred")
        )

    def _own(self, registered: RegisteredMethod) -> Callable[[str], WebAuthnCredential | None]:
        def find(lookup: str) -> WebAuthnCredential | None:
            # Looked up among this person's keys only: another person's key is unknown here.
            return (
                WebAuthnCredential.objects.filter(
                    lookup=lookup, registered__user_id=registered.user_id, registered__kind=KIND
                )
                .select_related("registered", "registered__user")
                .first()
            )

        return find

    def _check(
        self, registered: RegisteredMethod, response: str, *, now: dt.datetime, scope: str
    ) -> None:
        used = verify_assertion(
            response,
            user=registered.user,
            scope=scope,
            find=self._own(registered),
            require_user_verification=False,
            now=now,
        )
        if used.registered.pk == registered.pk:
            registered.counter = used.registered.counter
            registered.last_used_at = used.registered.last_used_at

    def verify(self, registered: RegisteredMethod, response: str, *, now: dt.datetime) -> None:
        # Confirming a signed-in person: only a challenge made without an attempt.
        self._check(registered, response, now=now, scope="")

    def verify_for(
        self,
        registered: RegisteredMethod,
        response: str,
        *,
        now: dt.datetime,
        attempt: AttemptRef,
    ) -> None:
        # Only this attempt's challenge: an answer made for another browser's sign-in fails.
        self._check(registered, response, now=now, scope=attempt.id)

    # --- enrolment -------------------------------------------------------------------------

    def start_enrolment(self, user: User, *, now: dt.datetime) -> PendingEnrolment:
        challenge = bytes_to_base64url(secrets.token_bytes(CHALLENGE_BYTES))
        return service.new_pending(
            user, self.kind, now=now, ttl=settings.ENROLMENT_TTL, data={"challenge": challenge}
        )

    def enrolment_context(self, pending: PendingEnrolment) -> dict[str, Any]:
        challenge = base64url_to_bytes(str(pending.data.get("challenge", "")))
        return {
            "options": creation_options(pending.user, challenge=challenge),
            "passkeys": passkey_signin_enabled(),
        }

    def finish_enrolment(
        self, pending: PendingEnrolment, response: str, *, now: dt.datetime, name: str = ""
    ) -> RegisteredMethod:
        if pending.expires_at <= now:
            raise ExpiredChallenge()
        challenge = base64url_to_bytes(str(pending.data.get("challenge", "")))
        new = check_registration(response, challenge=challenge)
        try:
            with transaction.atomic():
                # The enrolment's challenge is used once: a replayed answer finds it consumed.
                service.consume_pending(pending, now=now)
                if WebAuthnCredential.objects.filter(lookup=new.lookup).exists():
                    raise AlreadyRegistered()
                saved = service.save_new(
                    pending.user, self.kind, now=now, counter=new.sign_count, name=name
                )
                WebAuthnCredential.objects.create(
                    registered=saved,
                    lookup=new.lookup,
                    credential_id=bytes_to_base64url(new.credential_id),
                    public_key=bytes_to_base64url(new.public_key),
                    transports=new.transports,
                    aaguid=new.aaguid,
                    backup_eligible=new.backup_eligible,
                    backed_up=new.backed_up,
                    discoverable=new.discoverable,
                    user_verified=new.user_verified,
                )
        except IntegrityError:
            # The same key registered by two requests at once (the lookup is unique).
            raise AlreadyRegistered() from None
        return saved
