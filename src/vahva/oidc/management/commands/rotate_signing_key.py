"""`vahva rotate-signing-key`: a new ID-token signing key; the old one keeps verifying."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from oauth2_provider.settings import oauth2_settings

from vahva.audit.log import record
from vahva.oidc import keys


class Command(BaseCommand):
    help = (
        "Make a new ID-token signing key. The old key stays in the JWKS until the tokens it "
        "signed have expired; restart vahva afterwards."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        directory = settings.DATA_DIR / "oidc"
        # Keep a retired key as long as an ID token it signed can still be presented.
        keep = int(oauth2_settings.ID_TOKEN_EXPIRE_SECONDS) * 2
        rotation = keys.rotate(directory, keep_seconds=keep)
        record("oidc.key_rotated", reason=f"retired key kept as {rotation.retired.name}")
        self.stdout.write(f"New signing key in {directory / keys.ACTIVE}.")
        self.stdout.write(f"The previous key verifies for {keep} s more: {rotation.retired.name}")
        for path in rotation.dropped:
            self.stdout.write(f"Dropped expired key {path.name}.")
        self.stdout.write("Restart vahva (every node) to sign with the new key.")
