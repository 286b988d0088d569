"""Which directory entry a person is: matched by the entry's immutable id (entryUUID,
objectGUID), never by the e-mail address, which the directory may give to someone else."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class DirectoryLink(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="directory_link"
    )
    immutable_id = models.CharField(max_length=200, unique=True)
    dn = models.TextField()
    username = models.CharField(max_length=256, blank=True)
    given_name = models.CharField(max_length=150, blank=True)
    surname = models.CharField(max_length=150, blank=True)
    affiliation = models.CharField(max_length=256, blank=True)
    mobile = models.CharField(max_length=64, blank=True)
    #: False: gone from the directory or disabled there (the person is disabled in vahva).
    present = models.BooleanField(default=True)
    synced_at = models.DateTimeField()

    class Meta:
        verbose_name = _("directory link")

    def __str__(self) -> str:
        return self.dn
