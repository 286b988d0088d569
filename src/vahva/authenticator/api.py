"""The device API, ``/api/device/v1`` (django-ninja; OpenAPI at ``/api/device/v1/openapi.json``).

Thin: parse, authenticate the signature, call :mod:`.service`, shape the answer. Every failure
is a JSON body ``{"error": <code>, "message": <text>}`` with a 4xx status; see
:mod:`.protocol` for the headers and the signed message.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, NinjaAPI, Schema
from ninja.security.base import AuthBase

from vahva import clock, jsonapi
from vahva.conf import settings
from vahva.errors import MalformedInput

from . import protocol, service, webpush
from .errors import BodyTooLarge, UnknownDevice, code_of
from .models import Device, PushChallenge

#: Device requests are small JSON documents; anything bigger is refused before parsing.
MAX_BODY = 16 * 1024

DESCRIPTION = """\
The API the vahva app (and `vahva authenticator`) uses to enrol, receive sign-in requests and
answer them.

Requests other than `enroll` are signed by the device's ECDSA P-256 key. Headers:
`Vahva-Device` (device id), `Vahva-Timestamp` (Unix seconds), `Vahva-Nonce` (16-64 base64url
characters, new for every request) and `Vahva-Signature`: base64url of the 64-byte IEEE P1363
signature r||s (what WebCrypto's `sign({name: "ECDSA", hash: "SHA-256"}, ...)` returns) over
the UTF-8 lines, joined by `\\n`: `vahva-device-v1`, device id, HTTP method, path with query,
timestamp, nonce, hex SHA-256 of the body. `enroll` is signed the same way with the key being
registered and an empty device id (proof of possession).

Errors are `{"error": code, "message": text}` with a 4xx status.
"""


def _body(request: HttpRequest) -> bytes:
    return jsonapi.limited_body(request, MAX_BODY, BodyTooLarge)


class DeviceSignature(AuthBase):
    """Ninja authentication by the device's request signature (runs before the body is
    parsed); ``request.auth`` is then the :class:`Device`."""

    openapi_type = "apiKey"
    openapi_in = "header"
    openapi_name = protocol.HEADER_SIGNATURE

    def __call__(self, request: HttpRequest) -> Device:
        return signed_device(request)


class DeferredSignature(DeviceSignature):
    """The same check, the nonce not yet remembered: ``request.auth`` is the
    :class:`.service.SignedRequest`, and the operation remembers its nonce in its own write
    transaction (one per request instead of two)."""

    def __call__(self, request: HttpRequest) -> service.SignedRequest:  # type: ignore[override]
        return service.verify_signed(**_signature_of(request), now=clock.now())


def _signature_of(request: HttpRequest) -> dict[str, Any]:
    headers = request.headers
    return {
        "device_id": headers.get(protocol.HEADER_DEVICE, ""),
        "timestamp": headers.get(protocol.HEADER_TIMESTAMP, ""),
        "nonce": headers.get(protocol.HEADER_NONCE, ""),
        "signature": headers.get(protocol.HEADER_SIGNATURE, ""),
        "method": request.method or "",
        "path": request.get_full_path(),
        "body": _body(request),
    }


def signed_device(request: HttpRequest) -> Device:
    """The device that signed ``request`` (its headers, method, path and body); a typed
    error when none did, or not freshly (see :func:`.service.authenticate`)."""
    return service.authenticate(**_signature_of(request), now=clock.now())


api = NinjaAPI(
    title="vahva device API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="device-api",
    docs_url=None,  # the interactive docs load scripts from a CDN, which the CSP forbids
    parser=jsonapi.limited_parser(MAX_BODY, BodyTooLarge),
)
signed = DeviceSignature()
signed_deferred = DeferredSignature()


# --- errors --------------------------------------------------------------------------------


_error = jsonapi.install_errors(
    api, code_of=code_of, too_large=BodyTooLarge, unauthenticated=UnknownDevice
)


# --- schemas -------------------------------------------------------------------------------


class ErrorOut(Schema):
    error: str
    message: str


class EnrolBody(Schema):
    code: str = Field(max_length=200, description="The one-time code after # in the QR link.")
    public_key: str | dict[str, Any] = Field(
        description="P-256 public key: a JWK object, or base64 of the DER SubjectPublicKeyInfo."
    )
    name: str = Field(max_length=200, description="What the person calls the device.")


class EnrolOut(Schema):
    device: str
    name: str
    #: The test notification to approve next ("Let's try it out").
    challenge: str
    account: str = Field(description="The person's e-mail address, to label the account.")
    organisation: str
    totp_secret: str = Field(
        description="Base32 secret of the app's offline code (RFC 6238: SHA-1, 6 digits, 30 s)."
    )
    vapid_public_key: str = Field(
        description="The server's VAPID key (base64url P-256 point): applicationServerKey."
    )


class ChallengeOut(Schema):
    id: str
    nonce: str
    purpose: str = Field(description='"signin", or "test" for the enrolment\'s test notification')
    created_at: str
    expires_at: str
    organisation: str
    service: str
    ip: str | None
    location: str = Field(
        description='Roughly where the sign-in came from: "this-computer", "local-network" or ""'
    )
    outside_network: bool | None = Field(
        description="The sign-in came from outside the organisation's networks (None: unknown)."
    )
    match: str = Field(
        description='"number": approve by typing the number shown where the person signs in; '
        '"none": approve or deny only (a VPN that cannot show a number), so the app asks '
        '"Approve sign-in to <service> from <address>?"'
    )
    #: Number matching: the person types the number shown on the sign-in page (match "number").
    number_required: bool


class PendingOut(Schema):
    challenges: list[ChallengeOut]


class AnswerBody(Schema):
    challenge: str = Field(max_length=64)
    nonce: str = Field(max_length=64, description="The challenge's nonce, from `pending`.")
    decision: str = Field(max_length=16, description="approve, deny or report")
    number: int | str | None = Field(
        default=None, description='The two-digit number typed (approve; none for match "none").'
    )
    timestamp: int = Field(description="The same value as the Vahva-Timestamp header.")


class AnswerOut(Schema):
    challenge: str
    state: str


class ChallengeStateOut(Schema):
    challenge: str
    state: str = Field(description="pending, approved, denied, reported or expired")
    answered_here: bool = Field(description="This device gave the answer.")


class SubscriptionKeys(Schema):
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)


class SubscriptionBody(Schema):
    endpoint: str = Field(max_length=2048)
    keys: SubscriptionKeys
    expirationTime: int | None = None  # the Push API's own spelling


class SubscriptionOut(Schema):
    endpoint: str


class RemovedOut(Schema):
    device: str
    removed: bool


# --- operations ----------------------------------------------------------------------------

#: The statuses every signed operation may answer with besides its own.
SIGNED_ERRORS = (400, 401, 403, 413)


def _responses(ok: type[Schema], *errors: int) -> dict[int, type[Schema]]:
    return {200: ok, **dict.fromkeys(sorted(set(errors)), ErrorOut)}


def _challenge_out(challenge: PushChallenge) -> dict[str, Any]:
    context = challenge.context or {}
    return {
        "id": str(challenge.pk),
        "nonce": challenge.nonce,
        "purpose": challenge.purpose,
        "created_at": challenge.created_at.isoformat(),
        "expires_at": challenge.expires_at.isoformat(),
        "organisation": settings.ORGANISATION_NAME,
        "service": str(context.get("service", "")),
        "ip": context.get("ip"),
        "location": str(context.get("location", "")),
        "outside_network": context.get("outside"),
        "match": challenge.match,
        "number_required": challenge.match != PushChallenge.Match.NONE,
    }


@api.post("/enroll", response=_responses(EnrolOut, 400, 401, 410, 413), summary="Enrol a device")
def enroll(request: HttpRequest, payload: EnrolBody) -> dict[str, Any]:
    """Register the device's public key with the one-time code from the QR link.

    Signed with the key being registered (``Vahva-Device`` absent): proof that the device
    holds the private key. The link is used up, and a test notification is sent at once.
    """
    headers = request.headers
    key = protocol.load_public_key(payload.public_key)
    now = clock.now()
    timestamp = protocol.parse_timestamp(headers.get(protocol.HEADER_TIMESTAMP, ""))
    protocol.check_fresh(timestamp, now=now, window=settings.DEVICE_REQUEST_WINDOW)
    nonce = protocol.check_nonce(headers.get(protocol.HEADER_NONCE, ""))
    message = protocol.signed_message(
        device="",
        method="POST",
        path=request.get_full_path(),
        timestamp=timestamp,
        nonce=nonce,
        body=_body(request),
    )
    protocol.verify_signature(key, message, headers.get(protocol.HEADER_SIGNATURE, ""))
    device, test = service.enrol_device(
        code=payload.code, public_key=key, name=payload.name, now=now
    )
    return {
        "device": str(device.pk),
        "name": device.name,
        "challenge": str(test.pk),
        "account": device.user.email,
        "organisation": settings.ORGANISATION_NAME,
        "totp_secret": device.totp_secret,
        "vapid_public_key": webpush.application_server_key(),
    }


@api.get(
    "/pending",
    auth=signed,
    response=_responses(PendingOut, *SIGNED_ERRORS),
    summary="Requests waiting for this device",
)
def pending(request: HttpRequest) -> dict[str, Any]:
    """Sign-in requests (and test notifications) this device may answer now. The number to
    match is not included: the person reads it from the sign-in page."""
    device: Device = request.auth  # type: ignore[attr-defined]
    return {"challenges": [_challenge_out(c) for c in service.pending_for(device, now=clock.now())]}


@api.post(
    "/answer",
    auth=signed_deferred,
    response=_responses(AnswerOut, *SIGNED_ERRORS, 404, 409, 410),
    summary="Answer",
)
def answer(request: HttpRequest, payload: AnswerBody) -> dict[str, Any]:
    """Approve (with the typed number, unless the request's ``match`` is "none"), deny, or deny
    and report a request. An approval without the right number is refused for a request whose
    ``match`` is "number"."""
    signed: service.SignedRequest = request.auth  # type: ignore[attr-defined]
    if str(payload.timestamp) != request.headers.get(protocol.HEADER_TIMESTAMP):
        raise MalformedInput()
    challenge = service.answer(
        signed.device,
        challenge=payload.challenge,
        nonce=payload.nonce,
        decision=payload.decision,
        number=payload.number,
        now=clock.now(),
        request=request,
        signed=signed,
    )
    return {"challenge": str(challenge.pk), "state": challenge.state}


@api.get(
    "/challenges/{challenge_id}",
    auth=signed,
    response=_responses(ChallengeStateOut, *SIGNED_ERRORS, 404),
    summary="State of one request",
)
def challenge_state(request: HttpRequest, challenge_id: str) -> dict[str, Any]:
    """Whether a request sent to this device is still open, and who answered it (another
    device of the same person answering first withdraws it here)."""
    device: Device = request.auth  # type: ignore[attr-defined]
    state, here = service.state_for_device(device, challenge_id[:64], now=clock.now())
    return {"challenge": challenge_id, "state": state, "answered_here": here}


@api.put(
    "/device/push-subscription",
    auth=signed,
    response=_responses(SubscriptionOut, *SIGNED_ERRORS),
    summary="Set the Web Push subscription",
)
def push_subscription(request: HttpRequest, payload: SubscriptionBody) -> dict[str, Any]:
    """Store the browser's PushSubscription (https endpoints on public hosts only)."""
    device: Device = request.auth  # type: ignore[attr-defined]
    kept = service.set_push_subscription(device, payload.dict())
    return {"endpoint": kept["endpoint"]}


@api.delete(
    "/device", auth=signed, response=_responses(RemovedOut, *SIGNED_ERRORS), summary="Remove"
)
def remove(request: HttpRequest) -> dict[str, Any]:
    """Remove this device from the account; its key is refused afterwards."""
    device: Device = request.auth  # type: ignore[attr-defined]
    return {"device": str(device.pk), "removed": service.remove_device(device, now=clock.now())}
