"""vahva's side of a connected service: its MFA rule, and how each code's sign-in happened."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from vahva.signin.requirements import ServiceRule

MFA_RULE_CHOICES = [
    ("always", _("Always ask for a second factor")),
    ("outside_trusted", _("Ask outside the organisation's trusted networks")),
    ("never", _("Never ask for a second factor")),
    ("phishing_resistant", _("Always, and only a security key or passkey (phishing-resistant)")),
]
assert {value for value, _label in MFA_RULE_CHOICES} == {rule.value for rule in ServiceRule}


class Service(models.Model):
    """Settings vahva keeps for a connected OAuth application (one row per application)."""

    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="vahva_service",
    )
    mfa_rule = models.CharField(
        _("second factor"), max_length=32, choices=MFA_RULE_CHOICES, default="outside_trusted"
    )
    #: PKCE (S256) is required of every client; a confidential client that cannot send it
    #: may be let off here, in the admin (audited). Public clients never are.
    allow_without_pkce = models.BooleanField(
        _("allow sign-ins without PKCE"),
        default=False,
        help_text=_(
            "Only for a confidential service that cannot send a PKCE code challenge. "
            "Public clients (phone and desktop apps) always need PKCE."
        ),
    )

    def __str__(self) -> str:
        return f"{self.application} ({self.mfa_rule})"

    def clean(self) -> None:
        application = getattr(self, "application", None)
        if (
            self.allow_without_pkce
            and application is not None
            and application.client_type == "public"
        ):
            # A public client has no secret: PKCE is all that binds its code to it.
            raise ValidationError({"allow_without_pkce": _("Public clients always need PKCE.")})


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class Authorization(models.Model):
    """One authorization code and the sign-in behind it.

    The ID tokens issued from the code, and later from its refresh tokens, say how and when
    the person proved who they are (``amr``, ``acr``, ``auth_time``); this row is where that
    survives between the browser's request and the service's token requests. It also
    remembers that a code was redeemed, so a second redemption revokes what the first got.
    """

    # SHA-256 of the code: a database reader cannot redeem codes.
    code_hash = models.CharField(max_length=64, unique=True)
    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    auth_time = models.DateTimeField()
    amr = models.JSONField(default=list)
    acr = models.CharField(max_length=100)
    created_at = models.DateTimeField()
    redeemed_at = models.DateTimeField(null=True, blank=True)
    #: The refresh-token family issued from the code (django-oauth-toolkit's token_family).
    token_family = models.UUIDField(null=True, blank=True, db_index=True)
    #: The browser session the code was issued from (vahva.sessions' digest): signing that
    #: session out revokes the tokens issued from it.
    session = models.CharField(max_length=64, blank=True, default="", db_index=True)

    def __str__(self) -> str:
        return f"authorization for {self.application} ({self.acr})"
