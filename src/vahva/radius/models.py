"""The RADIUS clients (NAS: VPN concentrators, network devices) allowed to ask vahva."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from vahva.fields import EncryptedTextField
from vahva.signin.requirements import ServiceRule


class Prompt(models.TextChoices):
    """How the client asks for the second factor."""

    #: Access-Challenge: the client shows the text ("Enter the code...", the number to type
    #: in the app) and sends the answer back with the State.
    CHALLENGE = "challenge", _("Challenge: the client shows a prompt and sends the answer")
    #: The client cannot show a challenge: the Access-Request waits for the approval.
    WAIT = "wait", _("Wait: the request waits for the approval in the app")


class RadiusClient(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    #: The source addresses packets may come from (CIDR blocks); anything else is dropped.
    addresses = models.JSONField(_("allowed source addresses"), default=list)
    #: The shared secret, encrypted at rest (it signs every packet both ways).
    secret = EncryptedTextField(_("shared secret"), purpose="radius-secret")
    #: The service it counts as for the policy and the sign-in log ("" = its name).
    service = models.CharField(_("service"), max_length=100, blank=True)
    mfa_rule = models.CharField(
        _("MFA rule"),
        max_length=32,
        choices=[(rule.value, rule.value) for rule in ServiceRule],
        default=ServiceRule.OUTSIDE_TRUSTED.value,
    )
    prompt = models.CharField(
        _("second factor prompt"), max_length=16, choices=Prompt.choices, default=Prompt.CHALLENGE
    )
    #: Accept "password,123456" and "password123456" (a code appended to the password).
    appended_codes = models.BooleanField(_("accept codes appended to the password"), default=False)
    #: Wait mode only: the push to the app asks "Approve?" without a number to type (the VPN
    #: cannot show one). Opt-in: weaker against push bombing (see docs/radius.md).
    approve_only = models.BooleanField(
        _("push without number matching (wait mode only)"), default=False
    )
    created_at = models.DateTimeField()

    objects: models.Manager[RadiusClient] = models.Manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("RADIUS client")

    def __str__(self) -> str:
        return self.name

    @property
    def service_name(self) -> str:
        return self.service or self.name
