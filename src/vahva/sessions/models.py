"""One row per signed-in browser session."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class BrowserSession(models.Model):
    """A browser session of a signed-in person, as listed on Security info.

    The session's data holds a random id (it survives the session key's rotation at sign-in
    and at a password change); this row holds only its SHA-256, so a database reader cannot
    take over a session from here. Deleting the row ends the session: the middleware signs the
    browser out on its next request.
    """

    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    label = models.CharField(_("browser"), max_length=100)
    ip = models.GenericIPAddressField(_("address"), null=True, blank=True)
    #: The sign-in: the start of the absolute lifetime, which activity never moves.
    signed_in_at = models.DateTimeField(_("signed in"))
    #: The last request counted as activity, written at most once a minute.
    last_seen_at = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("browser session")
        verbose_name_plural = _("browser sessions")
        indexes = [
            models.Index(fields=["user", "last_seen_at"], name="vahva_sess_user_seen"),
            # The clean-up of long-gone rows (service._forget_long_gone) deletes by signed_in_at
            # alone, everyone's, every 10 minutes: without it a scan of the whole table.
            models.Index(fields=["signed_in_at"], name="vahva_sess_signed_in"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.signed_in_at:%Y-%m-%d %H:%M})"
