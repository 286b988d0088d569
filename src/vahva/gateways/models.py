"""The dev phone's inbox and calls (what the dev gateway "sent"), and the outbox of texts,
calls and mail waiting for their transaction to commit."""

from __future__ import annotations

from django.db import models

from vahva.fields import EncryptedTextField


class DevText(models.Model):
    number = models.CharField(max_length=20, db_index=True)
    text = models.TextField()
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"text to {self.number}"


class DevCall(models.Model):
    call_id = models.CharField(max_length=64, unique=True)
    number = models.CharField(max_length=20, db_index=True)
    say = models.TextField()
    # ringing → answered → ended
    state = models.CharField(max_length=16, default="ringing")
    #: Keys pressed since the last finishing key.
    keys = models.CharField(max_length=16, blank=True, default="")
    #: What the phone heard last (a thank-you, "press # again"...).
    heard = models.TextField(blank=True, default="")
    started_at = models.DateTimeField()

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"call to {self.number}"


class OutboxMessage(models.Model):
    """A text, call or mail to send once the transaction that asked for it has committed.

    Written in the same transaction as the code, call or audit row it belongs to (a rolled
    back transaction leaves no message), delivered after the commit by
    :func:`vahva.gateways.outbox.deliver`, and retired when the provider answers: its
    payload (a text holds a code) is wiped and only the outcome stays.
    """

    class Channel(models.TextChoices):
        SMS = "sms"
        CALL = "call"
        MAIL = "mail"

    class State(models.TextChoices):
        PENDING = "pending"  # committed, not yet handed to the provider
        SENDING = "sending"  # claimed by one process, the provider is being asked
        SENT = "sent"  # the provider took it (provider_id)
        FAILED = "failed"  # the provider refused or could not be reached (error)
        EXPIRED = "expired"  # waited past expires_at (a process stopped): never sent

    channel = models.CharField(max_length=8, choices=Channel.choices)
    #: The gateway's dotted path (a phone gateway, or the e-mail backend) when it was written.
    gateway = models.CharField(max_length=200)
    #: Whom it goes to (E.164 number, or the mail's addresses), for the admin and the logs.
    recipient = models.CharField(max_length=254)
    #: What to send, as JSON; encrypted (a text holds a code) and wiped when retired.
    payload = EncryptedTextField(purpose="outbox-payload", blank=True, default="")
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField()
    #: Not sent after this (a code or a call that would be over by then).
    expires_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    provider_id = models.CharField(max_length=100, blank=True, default="")
    #: The provider's own words when it refused (for the helpdesk and the logs).
    error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["state", "created_at"])]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient} ({self.state})"
