"""The policy's data: trusted networks kept in the admin (beside the TOML file's) and the
helpdesk's exemptions. :func:`vahva.policy.decide` itself stays pure: the edges read these and
put the answers in its context."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from vahva import networks


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


class TrustedNetwork(models.Model):
    """A named network ("Campus", "VPN") whose addresses skip MFA for services that allow it."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    blocks = models.TextField(
        _("CIDR blocks"),
        help_text=_("One per line, IPv4 or IPv6, e.g. 130.233.0.0/16 or 2001:708::/32."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("trusted network")
        verbose_name_plural = _("trusted networks")

    def __str__(self) -> str:
        return self.name

    def block_list(self) -> list[str]:
        return _lines(self.blocks)

    def clean(self) -> None:
        # A typo ("130.233.1.7/16", "10.0.0.0/33") must not silently widen or break the set:
        # the whole set, with the TOML file's networks, is parsed as the policy will see it.
        from .trusted import configured_networks

        others = {
            n.name: n.block_list()
            for n in TrustedNetwork.objects.filter(enabled=True).exclude(pk=self.pk)
        }
        mine = {self.name: self.block_list()} if self.enabled else {}
        try:
            networks.parse_networks({**configured_networks(), **others, **mine})
        except ValueError as exc:
            raise ValidationError({"blocks": str(exc)}) from None
        if self.name in configured_networks():
            raise ValidationError(
                {"name": _("A network of this name is already set in the configuration file.")}
            )


class Exemption(models.Model):
    """An opt-out from the second factor, granted by the helpdesk for a ticket, until a date."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("person"),
    )
    ticket = models.CharField(_("ticket"), max_length=64)
    reason = models.CharField(_("reason"), max_length=300)
    created_at = models.DateTimeField(_("granted"))
    expires_at = models.DateTimeField(_("expires"))
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("granted by"),
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "expires_at"])]
        verbose_name = _("exemption")
        verbose_name_plural = _("exemptions")

    def __str__(self) -> str:
        return f"exemption for user {self.user_id} until {self.expires_at:%Y-%m-%d} ({self.ticket})"


class Snooze(models.Model):
    """ "Not now" answers of a person without methods: how many, and until when the last one
    holds (VAHVA["REGISTRATION_SNOOZE_DAYS"], at most VAHVA["REGISTRATION_MAX_SNOOZES"]).

    The policy's, not the wizard's: whether a person must register before any service gets an
    assertion is decided at the door (:mod:`vahva.signin.requirements`), on every request.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    count = models.PositiveSmallIntegerField(default=0)
    until = models.DateTimeField()

    class Meta:
        # Moved from the registration app with its table (no data copied).
        db_table = "registration_snooze"

    def __str__(self) -> str:
        return f"{self.count} snoozes of user {self.user_id}, until {self.until:%Y-%m-%d}"
