"""The dev phone's inbox and calls: what the dev gateway "sent"."""

from __future__ import annotations

from django.db import models


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
