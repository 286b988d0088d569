"""Devices running the vahva app, their enrolment links, and the push challenges they answer."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from vahva.fields import EncryptedTextField


class Device(models.Model):
    """One installation of the vahva app (or the command-line client), holding one key pair."""

    class Status(models.TextChoices):
        #: Registered its key through an enrolment link; the test notification is not yet
        #: approved, so it gets only that one.
        ENROLLED = "enrolled"
        #: Its test was approved and the method saved: sign-in pushes reach it.
        ACTIVE = "active"
        #: Removed by the person, the helpdesk or the device itself; its signatures are refused.
        REMOVED = "removed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    # Public, so not encrypted; base64url of the DER SubjectPublicKeyInfo (P-256).
    public_key = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ENROLLED)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    # The browser's PushSubscription JSON: its endpoint URL and keys identify the phone to the
    # push service, so it is kept encrypted at rest.
    push_subscription = EncryptedTextField(purpose="push-subscription", blank=True, default="")
    # The app's offline code (TOTP, RFC 6238), given to the device at enrolment; moved to the
    # registered method (and blanked here) when the test notification is approved.
    totp_secret = EncryptedTextField(purpose="device-totp", blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["user", "status"])]

    def __str__(self) -> str:
        return f"device {self.id} ({self.status})"


class EnrolmentLink(models.Model):
    """The one-time code in an ``/app/enroll#<code>`` QR link; used once, within its TTL."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The methods room's pending enrolment this link belongs to (an id, not a foreign key:
    # the authenticator room does not know the methods room).
    enrolment = models.UUIDField(db_index=True)
    # SHA-256 of the code (see protocol.hash_code); the code itself is never stored here.
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    device = models.ForeignKey(
        Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"enrolment link for user {self.user_id}"


class PushChallenge(models.Model):
    """One "Approve the sign-in?" request, sent to one or more devices; answered once."""

    class State(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        DENIED = "denied"
        REPORTED = "reported"
        EXPIRED = "expired"

    class Purpose(models.TextChoices):
        SIGNIN = "signin"
        #: The test notification ("Let's try it out") that proves a new device works.
        TEST = "test"
        #: The helpdesk checking that a caller is the person: the agent reads the number out,
        #: the person types it into the app. It signs nobody in.
        HELPDESK = "helpdesk"

    class Match(models.TextChoices):
        """What the person does on the phone to approve."""

        #: Number matching: type the number shown where the sign-in happens (every sign-in
        #: that can show one: the web, a VPN showing RADIUS challenges).
        NUMBER = "number"
        #: Approve or deny only: for a VPN that cannot show a number (RADIUS wait mode, opted
        #: in per client). Weaker against push bombing, so a deny cools the person down.
        NONE = "none"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=8, choices=Purpose.choices)
    # The sign-in attempt (signin room) or the pending enrolment (methods room) it serves.
    attempt = models.UUIDField(null=True, blank=True, db_index=True)
    enrolment = models.UUIDField(null=True, blank=True, db_index=True)
    # 0, 1, 2... within its attempt or enrolment: which push is the latest ("Send another
    # request"), even when two were made within the same clock tick.
    serial = models.PositiveSmallIntegerField(default=0)
    # Sent to the device with the challenge and echoed in the signed answer.
    nonce = models.CharField(max_length=64)
    # Number matching: shown in the browser only, typed into the app.
    number = models.PositiveSmallIntegerField()
    # Set once, at creation: whether an approval must carry ``number`` (see Match).
    match = models.CharField(max_length=8, choices=Match.choices, default=Match.NUMBER)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    targets = models.ManyToManyField(Device, related_name="challenges")
    answered_by = models.ForeignKey(
        Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_number = models.PositiveSmallIntegerField(null=True, blank=True)
    wrong_numbers = models.PositiveSmallIntegerField(default=0)
    # Set once, when the browser's sign-in (or enrolment) is completed with this approval.
    consumed_at = models.DateTimeField(null=True, blank=True)
    # What the phone shows: organisation, service, address of the browser.
    context = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "expires_at"])]

    def __str__(self) -> str:
        return f"push {self.id} ({self.state})"


class SeenRequest(models.Model):
    """A device request's nonce, kept while its timestamp is fresh: a replay hits the unique
    constraint."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=64)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "nonce"], name="device_nonce_once")
        ]
        indexes = [models.Index(fields=["device", "expires_at"])]

    def __str__(self) -> str:
        return f"nonce of {self.device_id}"


class VapidKey(models.Model):
    """The server's VAPID key pair (RFC 8292), made at first use; the newest row signs.

    Push services tie a subscription to the application server key it was made with, so the
    pair is kept for good; the private half is encrypted at rest.
    """

    id = models.AutoField(primary_key=True)
    # base64url of the uncompressed P-256 point: the browser's ``applicationServerKey``.
    public_key = models.CharField(max_length=100)
    # PEM of the PKCS#8 private key.
    private_key = EncryptedTextField(purpose="vapid-private-key")
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"VAPID key {self.pk}"


class PushSlot(models.Model):
    """One of a person's allowances for sign-in requests, taken with a conditional UPDATE.

    Push bombing: a person has ``PUSH_MAX_OPEN`` *open* slots (one per request waiting on the
    phone; free again once it is answered or expires) and ``PUSH_MAX_PER_WINDOW`` *sent* slots
    (each holds the time of one request and frees itself ``PUSH_WINDOW`` seconds later). A
    request is sent only after it took one of each, whatever address the sign-in came from.
    """

    class Kind(models.TextChoices):
        OPEN = "open"
        SENT = "sent"

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=4, choices=Kind.choices)
    index = models.PositiveSmallIntegerField()
    # The slot is free from this moment on.
    free_at = models.DateTimeField()
    # The sign-in request holding the slot (an open slot is freed when it is answered).
    challenge = models.UUIDField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "index"], name="push_slot_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} push slot {self.index} of {self.user_id}"


class PushPause(models.Model):
    """Sign-in requests to a person's app stopped after suspicious attempts (push bombing):
    until ``until`` the sign-in asks for a typed code instead. One row per person, reused."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    since = models.DateTimeField()
    until = models.DateTimeField()
    # Sign-ins with the right password whose request was denied, reported or ignored.
    attempts = models.PositiveSmallIntegerField(default=0)

    def __str__(self) -> str:
        return f"pushes to {self.user_id} paused until {self.until}"
