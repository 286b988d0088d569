"""The programs allowed to call the validation API, each with a key of its own."""

from __future__ import annotations

from django.db import models


class ApiClient(models.Model):
    """A gateway or script. Its key is ``<key_id>.<secret>``; only the secret's hash is kept,
    so a copy of the database does not let anyone call the API."""

    name = models.CharField(max_length=100, unique=True)
    #: The key's public half: finds the row without comparing secrets in a query.
    key_id = models.CharField(max_length=16, unique=True)
    #: SHA-256 (hex) of the key's secret half (256 random bits: see vahva.clientkeys).
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    #: To the hour (updated at most once an hour, not on every check).
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects: models.Manager[ApiClient] = models.Manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
