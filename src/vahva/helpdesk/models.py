"""The helpdesk room's data: the permission that opens its pages, and the checks of callers
(everything else it does lands in the audit log and the other rooms)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Helpdesk(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("access", _("Can use the helpdesk tools"))]
        verbose_name = _("helpdesk")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)


class CallerCheck(models.Model):
    """One check of a caller by a code (texted, called or read out), for one ticket.

    A code is accepted only for the check it was sent for (its id is the code's scope), a few
    wrong codes each (``tries``, reserved with a conditional UPDATE before the code is looked
    at), and a person gets only a few checks per window (counted under a lock of their row).
    """

    class State(models.TextChoices):
        PENDING = "pending"
        VERIFIED = "verified"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    ticket = models.CharField(max_length=64)
    #: The method and its registration that the code proves (no foreign key: a method may be
    #: removed while the check is on the agent's page; the check then fails).
    kind = models.CharField(max_length=32)
    registered = models.BigIntegerField()
    #: The way as the agent chose it ("Text a code to +358 40 *** **23").
    label = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    tries = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    verified_at = models.DateTimeField(null=True, blank=True)
    #: How the caller was verified, for the page ("a code texted to +358 40 *** **23").
    said = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"caller check {self.pk} of user {self.user_id}"
