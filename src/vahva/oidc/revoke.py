"""Signing a person out ends their services' sessions too.

- *Sign out everywhere* (the helpdesk): every access and refresh token issued to the person is
  revoked (a stolen refresh token stops working).
- One browser session signed out (Security info's *Sign out*, *Sign out everywhere else*):
  the tokens issued from that session's sign-ins are revoked, the others stay.

Each code records the browser session it was issued from (``Authorization.session``); its
refresh-token family (``token_family``, kept across rotations) is what gets revoked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from vahva.audit.log import record

from .models import Authorization

if TYPE_CHECKING:
    from vahva.accounts.models import User


def revoke_all(user: User) -> int:
    """Revoke every token of ``user``; the number of refresh tokens revoked."""
    refresh = get_refresh_token_model().objects.filter(user_id=user.pk, revoked__isnull=True)
    count = 0
    for token in refresh:
        token.revoke()  # the toolkit's own revoke: the access token goes with it
        count += 1
    get_access_token_model().objects.filter(user_id=user.pk).delete()
    return count


def _families(user: User, digests: list[str]) -> list[Any]:
    return list(
        Authorization.objects.filter(
            user_id=user.pk, session__in=[d for d in digests if d], token_family__isnull=False
        )
        .values_list("token_family", flat=True)
        .distinct()
    )


def revoke_sessions(user: User, digests: list[str]) -> int:
    """Revoke the tokens issued from these browser sessions; the number of families revoked."""
    families = _families(user, digests)
    refresh_tokens = get_refresh_token_model()
    live = set(
        refresh_tokens.objects.filter(token_family__in=families, revoked__isnull=True).values_list(
            "token_family", flat=True
        )
    )
    for family in families:
        # A refresh token kept by the service (or a thief) stops working; the family's access
        # tokens are deleted with it.
        refresh_tokens.revoke_family(family)
    return len(live)


def services_of(digests: list[str]) -> dict[str, list[str]]:
    """{session digest: names of the services holding a live refresh token from it}."""
    rows = Authorization.objects.filter(
        session__in=[d for d in digests if d], token_family__isnull=False
    ).values_list("session", "token_family", "application__name")
    live = set(
        get_refresh_token_model()
        .objects.filter(token_family__in=[family for _s, family, _n in rows], revoked__isnull=True)
        .values_list("token_family", flat=True)
    )
    found: dict[str, list[str]] = {}
    for session, family, name in rows:
        if family in live:
            found.setdefault(session, []).append(str(name))
    return found


def on_signed_out_everywhere(sender: Any, user: User, **kwargs: Any) -> None:
    count = revoke_all(user)
    record("oidc.tokens_revoked", subject=user, reason="signed out everywhere", count=count)


def on_session_ended(
    sender: Any, user: User, digests: list[str], reason: str, **kwargs: Any
) -> None:
    count = revoke_sessions(user, digests)
    if count:
        record("oidc.tokens_revoked", subject=user, reason=reason, count=count)


def on_services_asked(sender: Any, digests: list[str], **kwargs: Any) -> dict[str, list[str]]:
    return services_of(digests)


def connect() -> None:
    from vahva.accounts.signals import signed_out_everywhere
    from vahva.sessions.service import services_asked, session_ended

    signed_out_everywhere.connect(on_signed_out_everywhere, dispatch_uid="vahva.oidc.revoke")
    session_ended.connect(on_session_ended, dispatch_uid="vahva.oidc.revoke.session")
    services_asked.connect(on_services_asked, dispatch_uid="vahva.oidc.revoke.services")
