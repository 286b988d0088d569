"""The ceremonies of security keys and passkeys (WebAuthn): the options the browser's prompt
gets, the challenges (random, bound to one scope, used once) and the check of an assertion
against the person's credentials, for a second factor and for passwordless sign-in.

Split from :mod:`.method`, which plugs them into the Method interface.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
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
from vahva.errors import MalformedInput, VahvaError
from vahva.methods import service
from vahva.methods.models import RegisteredMethod

from .checks import (
    Assertion,
    ChallengeExpired,
    ClonedAuthenticator,
    ReplayedAssertion,
    UnexpectedChallenge,
    UnknownCredential,
    amr_of,
    check_assertion,
    descriptor,
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


def new_challenge(user: User | None, scope: str, *, now: dt.datetime) -> bytes:
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


def verify_assertion(
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
    challenge = new_challenge(None, PASSKEY_SCOPE + scope, now=now)
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

    return verify_assertion(
        response,
        user=None,
        scope=PASSKEY_SCOPE + scope,
        find=find,
        require_user_verification=True,
        now=now,
    )
