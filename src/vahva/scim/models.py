"""What provisioning keeps beside vahva's people: the clients allowed in, each person's SCIM
attributes as the identity system last wrote them, and groups with their members."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class ProvisioningClient(models.Model):
    """An identity system (Entra ID, Okta, a sync script) with a bearer token of its own.

    The token is ``<token_id>.<secret>``; only the secret's SHA-256 is kept, so a copy of
    the database lets nobody provision."""

    name = models.CharField(max_length=100, unique=True)
    #: The token's public half: finds the row without comparing secrets in a query.
    token_id = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    #: Set when revoked: the token stops working, the row stays for the audit trail.
    revoked_at = models.DateTimeField(null=True, blank=True)
    #: To the hour (updated at most once an hour, not on every request).
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects: models.Manager[ProvisioningClient] = models.Manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ScimProfile(models.Model):
    """A provisioned person's SCIM attributes. The person is ``user``; vahva's own fields
    (e-mail, name, active) are derived from these on every write."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scim_profile"
    )
    #: userName: the e-mail address or the directory username, unique whatever the case.
    user_name = models.CharField(max_length=254)
    external_id = models.CharField(max_length=254, blank=True, db_index=True)
    display_name = models.CharField(max_length=254, blank=True)
    #: The mobile number the directory has for the person (phoneNumbers, type mobile): the
    #: "number in the system" the setup wizard may offer; still proved by a text or call.
    mobile = models.CharField(max_length=64, blank=True)
    #: The whole resource as last written (without id, meta, groups), for round trips.
    resource = models.JSONField(default=dict)
    client = models.ForeignKey(
        ProvisioningClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()
    #: A DELETE deactivates the person and hides them from SCIM (RFC 7644 §3.6: 404 after).
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects: models.Manager[ScimProfile] = models.Manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("user_name"), name="scim_profile_user_name_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.user_name


class ScimGroup(models.Model):
    """A group as the identity system sends it; it gives a role when
    ``VAHVA["SCIM_GROUP_ROLES"]`` names it, else it is just kept."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    display_name = models.CharField(max_length=254)
    external_id = models.CharField(max_length=254, blank=True, db_index=True)
    resource = models.JSONField(default=dict)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="scim_groups")
    client = models.ForeignKey(
        ProvisioningClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()

    objects: models.Manager[ScimGroup] = models.Manager()

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.display_name
