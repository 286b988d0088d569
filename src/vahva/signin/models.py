"""Sign-in attempts (and, from :mod:`.throttle`, the failure counters)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from .states import State
from .throttle import Throttle

__all__ = ["RememberedDevice", "SignInAttempt", "Throttle"]


class SignInAttempt(models.Model):
    """One sign-in, from a correct password to done, failed or expired."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=16, choices=[(s.value, s.value) for s in State])
    # SHA-256 of a random value kept in the browser session that started the attempt: only
    # that browser can finish it (a stolen attempt id is useless elsewhere).
    binding = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    method = models.CharField(max_length=32, blank=True)
    amr = models.JSONField(default=list, blank=True)
    next_url = models.CharField(max_length=2000, blank=True)
    # A method was begun for this attempt that leaves something waiting (a request on the
    # phone): set before it is sent, so that finishing the attempt withdraws it, and a
    # finish with nothing waiting reads no push requests at all.
    prompted = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"attempt {self.id} ({self.state})"


class RememberedDevice(models.Model):
    """A browser the person asked not to be asked again on ("Don't ask again for N days").

    The browser holds a random token in an HttpOnly cookie; only its SHA-256 is kept here, so
    a copy of the database does not let anyone skip a second factor.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    #: The browser's and the system's names, "Firefox/Linux", in no language: the list says
    #: them in the page's (remembered.shown_label). Rows from before: "Firefox on Linux".
    label = models.CharField(max_length=100, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "expires_at"])]

    def __str__(self) -> str:
        return f"remembered browser {self.pk} of user {self.user_id}"
