"""A security key's or passkey's public half, and the challenges of its ceremonies."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from vahva.methods.models import RegisteredMethod


class WebAuthnCredential(models.Model):
    """The public half of a security key or passkey (WebAuthn), one per registered method.

    Nothing here is secret: the private key never leaves the authenticator. The sign count is
    the registered method's ``counter`` (moved with a conditional UPDATE).
    """

    registered = models.OneToOneField(
        RegisteredMethod, on_delete=models.CASCADE, related_name="webauthn"
    )
    # SHA-256 of the credential id: a short, unique, indexed key for the passwordless look-up
    # (credential ids may be up to 1023 bytes).
    lookup = models.CharField(max_length=64, unique=True)
    #: The credential id, base64url, for allowCredentials / excludeCredentials.
    credential_id = models.TextField()
    #: The COSE public key, base64url.
    public_key = models.TextField()
    transports = models.JSONField(default=list, blank=True)
    aaguid = models.CharField(max_length=36, blank=True, default="")
    #: May be synced to other devices (a passkey in a password manager) / is synced now.
    backup_eligible = models.BooleanField(default=False)
    backed_up = models.BooleanField(default=False)
    #: A discoverable credential (credProps "rk"), usable without typing an address; None:
    #: the browser did not say.
    discoverable = models.BooleanField(null=True, blank=True)
    #: The authenticator verified the person (PIN, fingerprint, face) when it was registered.
    user_verified = models.BooleanField(default=False)

    class Meta:
        # Moved here from the methods app with its table (SeparateDatabaseAndState).
        db_table = "methods_webauthncredential"

    def __str__(self) -> str:
        return f"WebAuthn credential of method {self.registered_id}"


class WebAuthnChallenge(models.Model):
    """A WebAuthn challenge: random bytes for one ceremony, used once, for a few minutes.

    ``scope`` says which ceremony it serves: a sign-in attempt's id, "" to confirm a
    signed-in person, or ``passkey:<session binding>`` for a passwordless sign-in (``user``
    is then None: the passkey says whose it is).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    scope = models.CharField(max_length=100, blank=True, default="")
    challenge = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    used = models.BooleanField(default=False)

    class Meta:
        # Moved here from the methods app with its table (SeparateDatabaseAndState).
        db_table = "methods_webauthnchallenge"

    def __str__(self) -> str:
        return f"WebAuthn challenge for {self.scope or 'confirmation'}"
