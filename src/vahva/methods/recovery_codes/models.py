"""Recovery codes as stored: a salted HMAC each, used once."""

from __future__ import annotations

from django.db import models

from vahva.methods.models import RegisteredMethod


class RecoveryCode(models.Model):
    """One of a person's recovery codes: a salted HMAC only, used once."""

    registered = models.ForeignKey(
        RegisteredMethod, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    #: The code's first characters, public: they pick this row at a check. "" for a code made
    #: before codes had an index (compared with every row of the set without one).
    index = models.CharField(max_length=2, blank=True, default="")
    salt = models.CharField(max_length=32)
    digest = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Moved here from the methods app with its table (SeparateDatabaseAndState).
        db_table = "methods_recoverycode"

    def __str__(self) -> str:
        return f"recovery code {self.pk} of method {self.registered_id}"
