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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from webauthn import generate_authentication_options, generate_registration_options
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, options_to_json_dict
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from vahva.conf import settings
from vahva.errors import ExpiredChallenge, MalformedInput, VahvaError
from vahva.methods import service
from vahva.methods.base import Answer, AttemptRef, Method, Passwordless
from vahva.methods.challenges import Ceremony
from vahva.methods.models import PendingEnrolment, RegisteredMethod

from .checks import (
    Assertion,
    ChallengeExpired,
    ClonedAuthenticator,
    ReplayedAssertion,
    UnexpectedChallenge,
    UnknownCredential,
    amr_of,
    check_assertion,
    check_registration,
    descriptor,
    flags_of,
    parse_assertion,
    relying_party,
)
from .models import WebAuthnChallenge, WebAuthnCredential

if TYPE_CHECKING:
    from vahva.accounts.models import User

KIND = "webauthn"
#: Seconds a sign-in challenge is valid; the browser's prompt gives up after TIMEOUT_MS.
CHALLENGE_TTL = 300
TIMEOUT_MS = 120_000
#: Random bytes per challenge (WebAuthn §13.4.3: at least 16).
CHALLENGE_BYTES = 32
PASSKEY_SCOPE = "passkey:"


class AlreadyRegistered(MalformedInput):
    default_message = _("This security key or passkey is already registered.")


def passkey_signin_enabled() -> bool:
    """Whether the password page offers "Sign in with a passkey" (VAHVA["PASSKEY_SIGNIN"])."""
    return bool(settings.PASSKEY_SIGNIN)


def user_handle(user: User) -> bytes:
    """The WebAuthn user id: stable per person (an authenticator replaces its old passkey for
    the same person), opaque (WebAuthn §14.6.1: no personal data), keyed with the secret key."""
    return salted_hmac("vahva.methods.webauthn.user", str(user.pk), algorithm="sha256").digest()


def credentials_of(user: User) -> list[WebAuthnCredential]:
    return list(
        WebAuthnCredential.objects.filter(registered__user=user, registered__kind=KIND)
        .select_related("registered")
        .order_by("registered__created_at", "pk")
    )


def _descriptors(credentials: list[WebAuthnCredential]) -> list[dict[str, Any]]:
    """The credentials with their transports (USB, NFC, internal...), so that the browser
    knows where to look."""
    return [descriptor(c.credential_id, list(c.transports)) for c in credentials]


def creation_options(user: User, *, challenge: bytes) -> dict[str, Any]:
    """The options for ``navigator.credentials.create()`` (WebAuthn §5.4), as JSON data."""
    rp = relying_party()
    existing = credentials_of(user)
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user_handle(user),
        user_name=str(user.email),
        user_display_name=str(user.get_full_name() or user.email),
        challenge=challenge,
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            # A passkey that names its owner only where it can be used without an address;
            # otherwise a security key's few resident slots are not filled for nothing.
            resident_key=ResidentKeyRequirement.PREFERRED
            if passkey_signin_enabled()
            else ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    data = options_to_json_dict(options)
    # The same key twice would be two methods that are one.
    data["excludeCredentials"] = _descriptors(existing)
    # Whether the browser made a discoverable credential (a passkey), WebAuthn L3 §10.1.3.
    data["extensions"] = {"credProps": True}
    return data


def _new_challenge(user: User | None, scope: str, *, now: dt.datetime) -> bytes:
    value = secrets.token_bytes(CHALLENGE_BYTES)
    with transaction.atomic():
        # One open challenge per ceremony, and none kept after it expired: starting again
        # retires the older one, so the table stays as small as the sign-ins in progress.
        WebAuthnChallenge.objects.filter(expires_at__lte=now).delete()
        WebAuthnChallenge.objects.filter(user=user, scope=scope, used=False).delete()
        WebAuthnChallenge.objects.create(
            user=user,
            scope=scope,
            challenge=bytes_to_base64url(value),
            created_at=now,
            expires_at=now + dt.timedelta(seconds=CHALLENGE_TTL),
        )
    return value


def _use_challenge(
    assertion: Assertion, *, user: User | None, scope: str, now: dt.datetime
) -> None:
    """Use up the challenge the answer signs, exactly once (conditional UPDATE)."""
    key = bytes_to_base64url(assertion.client.challenge)
    row = WebAuthnChallenge.objects.filter(challenge=key).first()
    owner = getattr(user, "pk", None)
    if row is None or row.scope != scope or row.user_id != owner:
        # An answer made for another attempt, another person or another browser's session.
        raise UnexpectedChallenge()
    if row.used:
        raise ReplayedAssertion()
    if row.expires_at <= now:
        raise ChallengeExpired()
    # Replay: of two requests carrying the same answer, only one UPDATE finds it unused.
    taken = WebAuthnChallenge.objects.filter(pk=row.pk, used=False, expires_at__gt=now).update(
        used=True
    )
    if not taken:
        raise ReplayedAssertion()


def request_options(
    challenge: bytes, *, allow: list[WebAuthnCredential], user_verification: str
) -> dict[str, Any]:
    """The options for ``navigator.credentials.get()`` (WebAuthn §5.5), as JSON data."""
    options = generate_authentication_options(
        rp_id=relying_party().id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        user_verification=UserVerificationRequirement(user_verification),
    )
    data = options_to_json_dict(options)
    data["allowCredentials"] = _descriptors(allow)
    return data


@dataclass(frozen=True)
class Used:
    """A verified answer: the method whose key answered, and what the key said about it."""

    registered: RegisteredMethod
    amr: tuple[str, ...]


def _verify(
    response: str,
    *,
    user: User | None,
    scope: str,
    find: Callable[[str], WebAuthnCredential | None],
    require_user_verification: bool,
    now: dt.datetime,
) -> Used:
    assertion = parse_assertion(response)
    # Any answer to a challenge ends it, right or wrong: a challenge is never answered twice.
    _use_challenge(assertion, user=user, scope=scope, now=now)
    found = find(assertion.lookup)
    if found is None:
        raise UnknownCredential()
    registered = found.registered
    try:
        if assertion.user_handle is not None and assertion.user_handle != user_handle(
            registered.user
        ):
            # A passkey whose user id is not its owner's: not a credential made for them.
            raise UnknownCredential()
        verified = check_assertion(
            assertion,
            public_key=base64url_to_bytes(found.public_key),
            stored_sign_count=max(registered.counter, 0),
            require_user_verification=require_user_verification,
        )
    except VahvaError as exc:
        # Whose key it was, for the sign-in log of a passwordless attempt (a cloned passkey).
        exc.subject = registered.user  # type: ignore[attr-defined]
        raise
    if verified.sign_count > 0:
        # The count moves with a conditional UPDATE: of two answers from a key and its copy
        # racing, only one is ahead of the count the other one leaves behind.
        moved = RegisteredMethod.objects.filter(
            pk=registered.pk, counter__lt=verified.sign_count
        ).update(counter=verified.sign_count, last_used_at=now)
        if not moved:
            raise ClonedAuthenticator()
        registered.counter = verified.sign_count
        registered.last_used_at = now
    else:
        service.touch(registered, now=now)
    if verified.backed_up != found.backed_up:
        WebAuthnCredential.objects.filter(pk=found.pk).update(backed_up=verified.backed_up)
    return Used(
        registered,
        amr_of(user_verified=verified.user_verified, backup_eligible=verified.backup_eligible),
    )


def passkey_options(*, scope: str, now: dt.datetime) -> dict[str, Any]:
    """Options for a passwordless sign-in: no allow list (the passkey names its owner) and user
    verification required. ``scope`` binds the challenge to one browser session."""
    challenge = _new_challenge(None, PASSKEY_SCOPE + scope, now=now)
    return request_options(challenge, allow=[], user_verification="required")


def verify_passkey(response: str, *, scope: str, now: dt.datetime) -> Used:
    """Verify a passwordless answer made for this session's challenge; whose it is comes from
    the credential. Raises the errors of :mod:`.checks` (UnknownCredential for a
    passkey vahva does not know)."""

    def find(lookup: str) -> WebAuthnCredential | None:
        return (
            WebAuthnCredential.objects.filter(lookup=lookup, registered__kind=KIND)
            .select_related("registered", "registered__user")
            .first()
        )

    return _verify(
        response,
        user=None,
        scope=PASSKEY_SCOPE + scope,
        find=find,
        require_user_verification=True,
        now=now,
    )


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
        challenge = _new_challenge(registered.user, scope, now=now)
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
        used = _verify(
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
