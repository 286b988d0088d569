"""Texts and calls as stored: codes (a salted HMAC each), calls and their progress, and what the
SMS-pumping limits count."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from vahva.methods.models import PendingEnrolment, RegisteredMethod


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
        # Moved here from the methods app with its table (SeparateDatabaseAndState).
        db_table = "methods_phonecode"
        indexes = [
            models.Index(fields=["user", "created_at"]),
            # The helpdesk's call finds its code by the call id kept here (caller.py), on
            # every event of a call that is no sign-in call.
            models.Index(fields=["salt"], name="phonecode_salt"),
        ]

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
    #: The language the call speaks, chosen when it is placed: the provider's webhooks that
    #: carry the keys come with no language of the person's, so the replies need it from here.
    language = models.CharField(max_length=8, blank=True, default="")
    #: The outbox message that places the call (the call fails when it cannot be placed).
    message = models.ForeignKey(
        "gateways.OutboxMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        # Moved here from the methods app with its table (SeparateDatabaseAndState).
        db_table = "methods_phonecall"
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
    #: A registration's test text or call: counted apart from sign-ins in the person's limit.
    enrolment = models.BooleanField(default=False)
    message = models.ForeignKey(
        "gateways.OutboxMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        # Moved here from the methods app with its table (SeparateDatabaseAndState).
        db_table = "methods_phonesend"
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

    class Meta:
        # Moved here from the methods app with its table (SeparateDatabaseAndState).
        db_table = "methods_phonesendlock"

    def __str__(self) -> str:
        return "phone send lock"
