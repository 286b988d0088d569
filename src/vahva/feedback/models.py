"""Feedback sent from the help pages."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

MESSAGE_MAX = 2000


class Feedback(models.Model):
    created_at = models.DateTimeField(_("sent"), db_index=True)
    message = models.TextField(_("message"), max_length=MESSAGE_MAX)
    name = models.CharField(_("name"), max_length=150, blank=True)
    #: An e-mail address or a phone number, used only to ask more about this feedback.
    contact = models.CharField(_("contact details"), max_length=254, blank=True)
    #: Who sent it, when they were signed in.
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("person"),
    )
    # Only a keyed hash of the client's address, for the hourly limit: the address itself is
    # personal data this form does not need to keep.
    client = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["client", "created_at"])]
        verbose_name = _("feedback message")
        verbose_name_plural = _("feedback")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.message[:40]}"


class Sender(models.Model):
    """One row per client (the same keyed hash as :attr:`Feedback.client`), locked while a
    message from that client is counted and saved: parallel posts queue instead of all
    counting the same few messages and all getting in."""

    client = models.CharField(max_length=64, primary_key=True)

    def __str__(self) -> str:
        return self.client
