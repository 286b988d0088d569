"""Signing a person out everywhere ends their services' sessions too: every access and
refresh token issued to them is revoked (a stolen refresh token stops working)."""

from __future__ import annotations

from typing import Any

from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from vahva.audit.log import record


def revoke_all(user: Any) -> int:
    """Revoke every token of ``user``; the number of refresh tokens revoked."""
    refresh = get_refresh_token_model().objects.filter(user_id=user.pk, revoked__isnull=True)
    count = 0
    for token in refresh:
        token.revoke()  # the toolkit's own revoke: the access token goes with it
        count += 1
    get_access_token_model().objects.filter(user_id=user.pk).delete()
    return count


def on_signed_out_everywhere(sender: Any, user: Any, **kwargs: Any) -> None:
    count = revoke_all(user)
    record("oidc.tokens_revoked", subject=user, reason="signed out everywhere", count=count)


def connect() -> None:
    from vahva.accounts.signals import signed_out_everywhere

    signed_out_everywhere.connect(on_signed_out_everywhere, dispatch_uid="vahva.oidc.revoke")
