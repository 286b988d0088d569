"""The organisation's stock of hardware tokens, and whose each one is."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from vahva.fields import EncryptedTextField
from vahva.methods.models import RegisteredMethod

#: The kind of the sign-in method a token becomes (``RegisteredMethod.kind``).
KIND = "hardware_token"


class Algorithm(models.TextChoices):
    HOTP = "hotp", "HOTP"
    TOTP = "totp", "TOTP"


class State(models.TextChoices):
    #: In stock: anyone holding it can activate it (unless reserved for one person).
    AVAILABLE = "available", _("In stock")
    #: Someone's sign-in method.
    ACTIVE = "active", _("In use")
    #: Reported lost or broken: never accepted again (a finder cannot activate it).
    RETIRED = "retired", _("Retired")


class HardwareToken(models.Model):
    """One token: its secret (encrypted at rest like TOTP secrets) and its moving counter."""

    serial = models.CharField(max_length=64, unique=True)
    algorithm = models.CharField(max_length=4, choices=Algorithm.choices)
    secret = EncryptedTextField(purpose="hardware-token-secret")
    digits = models.PositiveSmallIntegerField(default=6)
    #: The hash of the HMAC: sha1 (nearly every token), sha256 or sha512.
    digest = models.CharField(max_length=8, default="sha1")
    #: TOTP: seconds per step.
    period = models.PositiveSmallIntegerField(default=30)
    #: HOTP: the next counter value the token will show. TOTP: the last accepted time step
    #: (-1: none). Moved only by a conditional UPDATE, so a code is accepted once.
    counter = models.BigIntegerField(default=0)
    #: TOTP: how many steps the token's clock is off, learnt at resynchronisation.
    drift = models.IntegerField(default=0)
    manufacturer = models.CharField(max_length=100, blank=True, default="")
    #: Where it came from: the file name of the batch.
    batch = models.CharField(max_length=200, blank=True, default="")
    imported_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.AVAILABLE)
    #: Wrong codes typed to activate it (reserve-first; cleared by a right code or the
    #: helpdesk).
    activation_tries = models.PositiveSmallIntegerField(default=0)
    #: Reserved by the helpdesk for one person: only they can activate it.
    reserved_for = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: The sign-in method it is, once activated.
    registered = models.OneToOneField(
        RegisteredMethod,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="hardware_token",
    )

    class Meta:
        ordering = ["serial"]

    def __str__(self) -> str:
        return f"{self.get_algorithm_display()} token {self.serial}"
