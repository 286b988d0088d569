"""The registration campaign's memory: how often a person has put registering off."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Snooze(models.Model):
    """ "Not now" answers of a person without methods: how many, and until when the last one
    holds (VAHVA["REGISTRATION_SNOOZE_DAYS"], at most VAHVA["REGISTRATION_MAX_SNOOZES"])."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    count = models.PositiveSmallIntegerField(default=0)
    until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.count} snoozes of user {self.user_id}, until {self.until:%Y-%m-%d}"
