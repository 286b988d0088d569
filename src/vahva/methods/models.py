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
