"""The WebAuthn checks of a browser's answer, free of the ORM (py_webauthn does the crypto).

Each check that stops an attack raises its own error, so that the person reads what went
wrong and the sign-in log says which attack it was:

- another web address (a phishing site relaying our challenge): :class:`WrongOrigin`;
- a credential made for another relying party: :class:`WrongRelyingParty`;
- a challenge that was not this ceremony's: :class:`UnexpectedChallenge`;
- a sign count that did not move forward (a cloned authenticator): :class:`ClonedAuthenticator`.

The relying party is this deployment's public address (VAHVA["PUBLIC_URL"]): its host is the
RP ID, its scheme, host and port the only origin accepted.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import gettext_lazy as _
from webauthn import verify_authentication_response, verify_registration_response
from webauthn.helpers import (
    parse_attestation_object,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorData,
    ClientDataType,
    CollectedClientData,
    CredentialDeviceType,
    RegistrationCredential,
)

from vahva.conf import settings
from vahva.errors import ExpiredChallenge, InvalidCode, MalformedInput, ReplayedCode

from .base import CEREMONY_NOT_UNDERSTOOD, MAX_CEREMONY_ANSWER

#: Longer answers are refused before any parsing (a browser's answer is about 1-2 kB).
MAX_RESPONSE = MAX_CEREMONY_ANSWER

NOT_UNDERSTOOD = CEREMONY_NOT_UNDERSTOOD


class CredentialRefused(InvalidCode):
    """A well-formed answer that is refused: audited and throttled like a wrong code.

    ``reason`` is what the sign-in log says (in English, for the helpdesk).
    """

    reason = "the security key's answer could not be verified"
    default_message = _(
        "The answer from your security key or passkey could not be verified. Try again."
    )


class WrongOrigin(CredentialRefused):
    # Phishing: a look-alike site passes our challenge on, but the browser writes its own
    # address into the answer.
    reason = "answer made on another web address (origin)"
    default_message = _(
        "Your security key or passkey answered for a different web address. Sign in only on "
        "your organisation's own sign-in page."
    )


class WrongRelyingParty(CredentialRefused):
    reason = "answer made for another relying party (RP ID)"
    default_message = WrongOrigin.default_message


class UnexpectedChallenge(CredentialRefused):
    reason = "answer to a challenge that was not this ceremony's"
    default_message = _(
        "This answer does not belong to this sign-in (perhaps it was started again in another "
        "tab). Try again."
    )


class UnknownCredential(CredentialRefused):
    reason = "unknown credential"
    default_message = _(
        "That security key or passkey is not registered to your account. Use one you added on "
        "Security info, or sign in another way."
    )


class UserNotVerified(CredentialRefused):
    reason = "the authenticator did not verify the person (no PIN or biometric)"
    default_message = _(
        "Your security key or passkey did not check that it is you. Try again, and unlock it "
        "with your PIN, fingerprint or face when asked."
    )


class ClonedAuthenticator(CredentialRefused):
    # A copy of the key's secret: the copy and the original count their uses separately, so
    # one of them sooner or later presents a count that is not ahead of the last one seen.
    reason = "sign count did not increase: possibly a cloned authenticator"
    default_message = _(
        "This security key's use counter went backwards, which happens when a key has been "
        "copied. It was refused for your safety: sign in another way and tell the helpdesk."
    )


class ReplayedAssertion(ReplayedCode):
    reason = "replayed answer (its challenge was already used)"
    default_message = _("This answer was already used. Try again.")


class ChallengeExpired(ExpiredChallenge):
    default_message = _("The request to your security key or passkey expired. Try again.")


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origin: str
    name: str


def relying_party() -> RelyingParty:
    """RP ID and origin from VAHVA["PUBLIC_URL"]: ``https://mfa.example.org:8443/`` gives
    ``mfa.example.org`` and ``https://mfa.example.org:8443`` (a default port is left out, as
    browsers leave it out of the origin they report)."""
    parts = urlsplit(str(settings.PUBLIC_URL))
    host = (parts.hostname or "").lower()
    scheme = parts.scheme.lower()
    port = parts.port
    default = {"http": 80, "https": 443}.get(scheme)
    origin = f"{scheme}://{host}" + (f":{port}" if port and port != default else "")
    return RelyingParty(id=host, origin=origin, name=str(settings.ORGANISATION_NAME))


def lookup_of(credential_id: bytes) -> str:
    """The indexed key a credential is found by (its id may be up to 1023 bytes)."""
    return hashlib.sha256(credential_id).hexdigest()


def _text(response: str) -> str:
    text = response or ""
    if not text.strip() or len(text) > MAX_RESPONSE:
        raise MalformedInput(NOT_UNDERSTOOD)
    return text


# What a mangled answer can raise inside the parsers (base64, CBOR, struct, JSON...).
_PARSE_ERRORS = (
    WebAuthnException,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    binascii.Error,
    struct.error,
)


def _client_data(raw: bytes, *, expected: ClientDataType, rp: RelyingParty) -> CollectedClientData:
    try:
        client = parse_client_data_json(raw)
    except _PARSE_ERRORS:
        raise MalformedInput(NOT_UNDERSTOOD) from None
    if client.type != expected:
        # A registration's answer offered at sign-in, or the other way round.
        raise MalformedInput(NOT_UNDERSTOOD)
    if client.origin != rp.origin:
        raise WrongOrigin()
    if client.cross_origin:
        # Framed by another site (clickjacking): vahva's pages are never framed (CSP).
        raise WrongOrigin()
    return client


def _check_rp(auth_data: AuthenticatorData, rp: RelyingParty) -> None:
    if auth_data.rp_id_hash != hashlib.sha256(rp.id.encode()).digest():
        raise WrongRelyingParty()


@dataclass(frozen=True)
class Registration:
    """A verified new credential, ready to be saved."""

    credential_id: bytes
    public_key: bytes
    sign_count: int
    aaguid: str
    transports: list[str]
    backup_eligible: bool
    backed_up: bool
    user_verified: bool
    discoverable: bool | None

    @property
    def lookup(self) -> str:
        return lookup_of(self.credential_id)


def _discoverable(text: str) -> bool | None:
    """credProps' "rk" from the answer's clientExtensionResults (WebAuthn L3 §10.1.3)."""
    try:
        found = json.loads(text).get("clientExtensionResults", {}).get("credProps", {}).get("rk")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, bool) else None


def check_registration(response: str, *, challenge: bytes) -> Registration:
    """Verify ``navigator.credentials.create()``'s JSON for ``challenge`` (WebAuthn §7.1).

    No attestation is asked for ("none"): vahva trusts the person who is signed in to pick
    their own authenticator, and records its AAGUID only.
    """
    text = _text(response)
    rp = relying_party()
    try:
        credential: RegistrationCredential = parse_registration_credential_json(text)
        attestation = parse_attestation_object(credential.response.attestation_object)
    except _PARSE_ERRORS:
        raise MalformedInput(NOT_UNDERSTOOD) from None
    client = _client_data(
        credential.response.client_data_json, expected=ClientDataType.WEBAUTHN_CREATE, rp=rp
    )
    if client.challenge != challenge:
        raise UnexpectedChallenge()
    _check_rp(attestation.auth_data, rp)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=False,
        )
    except WebAuthnException:
        raise CredentialRefused() from None
    except _PARSE_ERRORS:
        raise MalformedInput(NOT_UNDERSTOOD) from None
    return Registration(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=verified.aaguid,
        transports=[str(t.value) for t in credential.response.transports or []],
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up,
        user_verified=verified.user_verified,
        discoverable=_discoverable(text),
    )


@dataclass(frozen=True)
class Assertion:
    """A browser's answer to ``navigator.credentials.get()``, parsed but not yet verified."""

    text: str
    credential: AuthenticationCredential
    client: CollectedClientData
    auth_data: AuthenticatorData

    @property
    def lookup(self) -> str:
        return lookup_of(self.credential.raw_id)

    @property
    def user_handle(self) -> bytes | None:
        return self.credential.response.user_handle


def parse_assertion(response: str) -> Assertion:
    """Parse an answer at sign-in: MalformedInput for anything mangled, WrongOrigin for an
    answer made on another site (checked before anything is looked up)."""
    text = _text(response)
    rp = relying_party()
    try:
        credential = parse_authentication_credential_json(text)
        auth_data = parse_authenticator_data(credential.response.authenticator_data)
    except _PARSE_ERRORS:
        raise MalformedInput(NOT_UNDERSTOOD) from None
    client = _client_data(
        credential.response.client_data_json, expected=ClientDataType.WEBAUTHN_GET, rp=rp
    )
    return Assertion(text=text, credential=credential, client=client, auth_data=auth_data)


@dataclass(frozen=True)
class Verified:
    sign_count: int
    user_verified: bool
    backup_eligible: bool
    backed_up: bool


def check_assertion(
    assertion: Assertion,
    *,
    public_key: bytes,
    stored_sign_count: int,
    require_user_verification: bool,
) -> Verified:
    """Verify the signature and flags of ``assertion`` (WebAuthn §7.2) for a credential whose
    challenge the caller has already used up."""
    rp = relying_party()
    _check_rp(assertion.auth_data, rp)
    if require_user_verification and not assertion.auth_data.flags.uv:
        raise UserNotVerified()
    try:
        verified = verify_authentication_response(
            credential=assertion.credential,
            expected_challenge=assertion.client.challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=public_key,
            # The count is compared below, after the signature: only a real signature with
            # a stale count is the sign of a clone (a forged one is just refused).
            credential_current_sign_count=0,
            require_user_verification=require_user_verification,
        )
    except WebAuthnException:
        raise CredentialRefused() from None
    except _PARSE_ERRORS:
        raise MalformedInput(NOT_UNDERSTOOD) from None
    count = verified.new_sign_count
    # WebAuthn §6.1.1: authenticators that keep no count send 0 every time; any other count
    # must be ahead of the last one seen.
    if (count > 0 or stored_sign_count > 0) and count <= stored_sign_count:
        raise ClonedAuthenticator()
    return Verified(
        sign_count=count,
        user_verified=verified.user_verified,
        backup_eligible=assertion.auth_data.flags.be,
        backed_up=verified.credential_backed_up,
    )


def amr_of(*, user_verified: bool, backup_eligible: bool) -> tuple[str, ...]:
    """RFC 8176 values: "hwk" for a key bound to one device, "swk" for a passkey that may be
    synced between devices (its private key leaves the hardware), and "user" when the
    authenticator verified the person (PIN, fingerprint, face)."""
    key = "swk" if backup_eligible else "hwk"
    return (key, "user") if user_verified else (key,)


def flags_of(response: str) -> tuple[bool, bool]:
    """(user verified, backup eligible) as an already verified answer says."""
    try:
        credential = parse_authentication_credential_json(_text(response))
        flags = parse_authenticator_data(credential.response.authenticator_data).flags
    except (MalformedInput, *_PARSE_ERRORS):
        return False, False
    return bool(flags.uv), bool(flags.be)


def descriptor(credential_id: str, transports: list[str]) -> dict[str, Any]:
    """A PublicKeyCredentialDescriptor in the JSON form the browser parses."""
    found: dict[str, Any] = {"type": "public-key", "id": credential_id}
    if transports:
        found["transports"] = list(transports)
    return found


__all__ = [
    "Assertion",
    "ChallengeExpired",
    "ClonedAuthenticator",
    "CredentialRefused",
    "Registration",
    "RelyingParty",
    "ReplayedAssertion",
    "UnexpectedChallenge",
    "UnknownCredential",
    "UserNotVerified",
    "Verified",
    "WrongOrigin",
    "WrongRelyingParty",
    "amr_of",
    "check_assertion",
    "check_registration",
    "descriptor",
    "flags_of",
    "lookup_of",
    "parse_assertion",
    "relying_party",
]
