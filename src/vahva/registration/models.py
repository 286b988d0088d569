"""The registration room's table: requests for a password reset link. (The campaign's
snoozes are the policy's, :class:`vahva.policy.models.Snooze`.)"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PasswordReset(models.Model):
    """One "Forgot your password?" request: written before anything is checked or sent, so it
    is also what the per-address and per-client limits count (reserve first)."""

    #: Keyed hashes: the table says how often, not who asked or from where.
    address_key = models.CharField(max_length=64, db_index=True)
    client_key = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(db_index=True)
    #: Empty when no link was sent (no such person, or over a limit).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )
    #: SHA-256 of the link's secret: a copy of the table opens no one's account.
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"reset {self.pk}"
