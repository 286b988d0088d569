"""A person's registered methods and the enrolments in progress."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from vahva.fields import EncryptedTextField


class RegisteredMethod(models.Model):
    """One registered way to prove who you are (an app, a phone, a key...)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32)
    name = models.CharField(max_length=100, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Shared secret (TOTP seed...), encrypted at rest; empty for methods without one.
    secret = EncryptedTextField(purpose="method-secret", blank=True, default="")
    # Monotonic counter: the last accepted TOTP step, a WebAuthn sign count...; consumed with a
    # conditional UPDATE so that two parallel requests cannot both accept the same value.
    counter = models.BigIntegerField(default=-1)
    # Non-secret, method-specific details (a phone number, a device id...).
    data = models.JSONField(default=dict, blank=True)
    # A method that stops working by itself (a temporary access pass); None: until removed.
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["user", "kind"])]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(is_default=True), name="one_default_method"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} for user {self.user_id}"


class PendingEnrolment(models.Model):
    """A method being set up: created when the QR is shown, consumed once when confirmed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32)
    secret = EncryptedTextField(purpose="enrolment-secret", blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    consumed = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.kind} enrolment for user {self.user_id}"


class PhoneCode(models.Model):
    """A code texted to a phone: kept as a salted HMAC only, used once, for a few tries.

    It serves one enrolment (``pending``) or one registered phone at one sign-in attempt
    (``registered`` + ``attempt``); a code is never accepted for anything else.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    pending = models.ForeignKey(
        PendingEnrolment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    registered = models.ForeignKey(
        RegisteredMethod, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    attempt = models.CharField(max_length=64, blank=True, default="")
    number = models.CharField(max_length=20)
    salt = models.CharField(max_length=32)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    tries = models.PositiveSmallIntegerField(default=0)
    used = models.BooleanField(default=False)
    #: The outbox message that carries it (deleted with the code when it could not be sent).
    message = models.ForeignKey(
        "gateways.OutboxMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"phone code for user {self.user_id}"


class PhoneCall(models.Model):
    """An automated call asking for # (approve) or 0# (report), driven by the gateway's events."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    pending = models.ForeignKey(
        PendingEnrolment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    registered = models.ForeignKey(
        RegisteredMethod, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    attempt = models.CharField(max_length=64, blank=True, default="")
    number = models.CharField(max_length=20)
    # calling → ringing → answered → approved → used; or reported, hung_up, no_answer, failed.
    state = models.CharField(max_length=16, default="calling")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    service = models.CharField(max_length=200, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    #: The outbox message that places the call (the call fails when it cannot be placed).
    message = models.ForeignKey(
        "gateways.OutboxMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"phone call {self.pk} for user {self.user_id}"


class PhoneSend(models.Model):
    """One text or call reserved before it is sent: what the SMS-pumping limits count.

    Written, under :class:`PhoneSendLock`, in the transaction that writes the text or call;
    deleted again (refunded) when the outbox could not send it.
    """

    at = models.DateTimeField(db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    number = models.CharField(max_length=20)
    country = models.CharField(max_length=4)
    ip = models.GenericIPAddressField(null=True, blank=True)
    channel = models.CharField(max_length=8)
    message = models.ForeignKey(
        "gateways.OutboxMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["number", "at"]),
            models.Index(fields=["user", "at"]),
            models.Index(fields=["ip", "at"]),
            models.Index(fields=["country", "at"]),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.number} at {self.at}"


class PhoneSendLock(models.Model):
    """One row, locked by every transaction that reserves a text or call: the limits' count
    and the new :class:`PhoneSend` happen under it, so a parallel burst is counted one by
    one (on SQLite the IMMEDIATE transaction is the lock; this row is PostgreSQL's)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)

    def __str__(self) -> str:
        return "phone send lock"


class WebAuthnCredential(models.Model):
    """The public half of a security key or passkey (WebAuthn), one per registered method.

    Nothing here is secret: the private key never leaves the authenticator. The sign count is
    the registered method's ``counter`` (moved with a conditional UPDATE).
    """

    registered = models.OneToOneField(
        RegisteredMethod, on_delete=models.CASCADE, related_name="webauthn"
    )
    # SHA-256 of the credential id: a short, unique, indexed key for the passwordless look-up
    # (credential ids may be up to 1023 bytes).
    lookup = models.CharField(max_length=64, unique=True)
    #: The credential id, base64url, for allowCredentials / excludeCredentials.
    credential_id = models.TextField()
    #: The COSE public key, base64url.
    public_key = models.TextField()
    transports = models.JSONField(default=list, blank=True)
    aaguid = models.CharField(max_length=36, blank=True, default="")
    #: May be synced to other devices (a passkey in a password manager) / is synced now.
    backup_eligible = models.BooleanField(default=False)
    backed_up = models.BooleanField(default=False)
    #: A discoverable credential (credProps "rk"), usable without typing an address; None:
    #: the browser did not say.
    discoverable = models.BooleanField(null=True, blank=True)
    #: The authenticator verified the person (PIN, fingerprint, face) when it was registered.
    user_verified = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"WebAuthn credential of method {self.registered_id}"


class WebAuthnChallenge(models.Model):
    """A WebAuthn challenge: random bytes for one ceremony, used once, for a few minutes.

    ``scope`` says which ceremony it serves: a sign-in attempt's id, "" to confirm a
    signed-in person, or ``passkey:<session binding>`` for a passwordless sign-in (``user``
    is then None: the passkey says whose it is).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    scope = models.CharField(max_length=100, blank=True, default="")
    challenge = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    used = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"WebAuthn challenge for {self.scope or 'confirmation'}"
