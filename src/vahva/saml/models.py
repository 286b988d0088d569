"""Connected SAML service providers, and the AuthnRequest ids already seen (replays)."""

from __future__ import annotations

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _

from vahva.signin.requirements import ServiceRule

MFA_RULE_CHOICES = [
    (ServiceRule.ALWAYS.value, _("Always ask for a second factor")),
    (ServiceRule.OUTSIDE_TRUSTED.value, _("Ask outside the organisation's trusted networks")),
    (ServiceRule.NEVER.value, _("Never ask for a second factor")),
    (
        ServiceRule.PHISHING_RESISTANT.value,
        _("Always, and only a security key or passkey (phishing-resistant)"),
    ),
]


class Profile(StrEnum):
    """How the response is shaped for the service."""

    STANDARD = "standard"  # REFEDS/eduPerson attributes, pairwise persistent NameID
    MICROSOFT365 = "microsoft365"  # Entra federation: ImmutableID NameID, IDPEmail


PROFILE_CHOICES = [
    (Profile.STANDARD.value, _("Standard (REFEDS, eduPerson)")),
    (Profile.MICROSOFT365.value, _("Microsoft 365 federation")),
]


def default_release() -> list[str]:
    from .attributes import DEFAULT_RELEASE

    return list(DEFAULT_RELEASE)


def no_release() -> list[str]:
    return []


class Federation(models.Model):
    """A federation's metadata aggregate: where to fetch it and the certificate that must have
    signed it. Its services are kept as :class:`ServiceProvider` rows with ``federation`` set."""

    name = models.CharField(_("name"), max_length=150, unique=True)
    url = models.URLField(_("aggregate address"), max_length=1024)
    #: The federation operator's metadata signing certificate (PEM), pinned: an aggregate
    #: signed by any other key is refused.
    cert_pem = models.TextField(_("signing certificate"))
    #: What its services may receive unless an entity category or a per-service change says
    #: more (friendly names, see vahva.saml.attributes).
    release = models.JSONField(_("released attributes"), default=no_release, blank=True)
    mfa_rule = models.CharField(
        _("second factor"),
        max_length=32,
        choices=MFA_RULE_CHOICES,
        default=ServiceRule.OUTSIDE_TRUSTED.value,
    )
    #: The validUntil of the last good aggregate: after it, its services are not answered.
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    refreshed_at = models.DateTimeField(_("last refreshed"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True, default="")

    class Meta:
        verbose_name = _("SAML federation")
        verbose_name_plural = _("SAML federations")

    def __str__(self) -> str:
        return self.name


class ServiceProvider(models.Model):
    """A service that signs people in with SAML 2.0, known from its metadata."""

    entity_id = models.CharField(_("entity id"), max_length=1024, unique=True)
    name = models.CharField(_("name"), max_length=150)
    metadata_xml = models.TextField(_("metadata"))
    mfa_rule = models.CharField(
        _("second factor"),
        max_length=32,
        choices=MFA_RULE_CHOICES,
        default=ServiceRule.OUTSIDE_TRUSTED.value,
    )
    #: Refuse AuthnRequests without a valid signature even when the metadata does not say
    #: AuthnRequestsSigned="true".
    require_signed_requests = models.BooleanField(_("require signed requests"), default=False)
    #: The attributes this service may receive (friendly names, see vahva.saml.attributes).
    release = models.JSONField(_("released attributes"), default=default_release, blank=True)
    profile = models.CharField(
        _("profile"), max_length=32, choices=PROFILE_CHOICES, default=Profile.STANDARD.value
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    #: Set when the service came from a federation aggregate (its metadata is replaced, and
    #: the service removed, by the next refresh); empty for a service added by hand.
    federation = models.ForeignKey(
        Federation,
        verbose_name=_("federation"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="providers",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("SAML service")
        verbose_name_plural = _("SAML services")

    def __str__(self) -> str:
        return f"{self.name} ({self.entity_id})"


class SeenRequest(models.Model):
    """An AuthnRequest id already received from a service: the same id again is a replay."""

    sp_entity_id = models.CharField(max_length=1024)
    request_id = models.CharField(max_length=256)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sp_entity_id", "request_id"], name="saml_seen_once")
        ]

    def __str__(self) -> str:
        return f"{self.request_id} from {self.sp_entity_id}"
