"""A refresh grant's read and rotation in fewer statements, with the toolkit's effect.

django-oauth-toolkit reads a refresh token in three statements (the token with its access
token, then its person, then its application again, to compare it with the client just
authenticated), and rotates it through ``RefreshToken.revoke()``: a savepoint, the refresh and
access tokens selected twice, the old access token deleted through Django's delete collector
(``UPDATE``, ``DELETE``) and the refresh token saved back (``UPDATE``): nine statements before
the new pair is inserted. For the usual case (a live refresh token, rotation on) the same
work is done here in three:

- one read: the refresh token with its access token and its person; the application is
  compared by id with the client the request authenticated;
- one conditional ``UPDATE`` that revokes the old refresh token only while it is still live
  and still holds the access token read, so of two parallel rotations of one token only one
  claims it. The other one gets the pair the first minted, as the toolkit answers a retry,
  or, when there is none because the family was revoked meanwhile (a replay detected, a
  sign-out), ``invalid_grant``: the toolkit would have minted a new pair into the revoked
  family;
- one ``DELETE`` of the old access token, which nothing points at any more.

A revoked refresh token (reuse detection, the grace period), rotation turned off, or a signal
receiver on the token models: the toolkit's own code decides, unchanged. ``PINNED`` names the
toolkit methods this mirrors; tests/oidc/test_rotation.py fails when one of them changes, so
that an upgrade is read before it is trusted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.db import connections, router
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from oauth2_provider.models import (
    get_access_token_model,
    get_refresh_token_model,
    refresh_token_expire_timedelta,
)

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()

#: The toolkit's methods whose effect this module reproduces (module path, qualified name).
PINNED = (
    ("oauth2_provider.oauth2_validators", "OAuth2Validator.validate_refresh_token"),
    ("oauth2_provider.oauth2_validators", "OAuth2Validator._save_bearer_token"),
    ("oauth2_provider.oauth2_validators", "OAuth2Validator.finalize_id_token"),
    ("oauth2_provider.models", "AbstractRefreshToken.revoke"),
    ("oauth2_provider.models", "AbstractAccessToken.revoke"),
)


def find_live(refresh_token: str) -> Any | None:
    """The live (unrevoked) row of ``refresh_token`` with its access token and person; None
    when there is none (then the toolkit looks for a revoked one: reuse detection)."""
    checksum = hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()
    # At most one live row per checksum (the toolkit's uniqueness is (checksum, revoked)):
    # no ORDER BY needed.
    rows = list(
        RefreshToken.objects.filter(token_checksum=checksum, revoked__isnull=True).select_related(
            "access_token", "user"
        )[:1]
    )
    return rows[0] if rows else None


def live_and_in_date(row: Any, *, now: dt.datetime) -> bool:
    """The toolkit's checks of an unrevoked refresh token: it still has its access token (an
    orphan has nothing to refresh), and it has not outlived REFRESH_TOKEN_EXPIRE_SECONDS after
    that access token's expiry (a token never swept would otherwise work forever)."""
    if row.revoked is not None or row.access_token is None:
        return False
    expire_delta = refresh_token_expire_timedelta()
    return not (expire_delta and row.access_token.expires + expire_delta <= now)


def toolkit_signals_heard() -> bool:
    """Whether anything listens to the saves and deletes the toolkit's rotation would send
    (the direct statements send none); then the toolkit rotates."""
    return any(
        signal.has_listeners(model)
        for signal, model in (
            (pre_save, RefreshToken),
            (post_save, RefreshToken),
            (pre_delete, AccessToken),
            (post_delete, AccessToken),
        )
    )


def revoke_for_rotation(row: Any, *, now: dt.datetime) -> bool:
    """Revoke the refresh token ``row`` and delete its access token, as
    ``RefreshToken.revoke()`` does; False (and nothing written) when the row is no longer the
    live token holding that access token. Call it inside the grant's transaction."""
    # Two parallel grants with one refresh token (a replay racing the service, or a retry):
    # only one UPDATE matches the live row, so only one mints a new pair from it here.
    claimed = RefreshToken.objects.filter(
        pk=row.pk, revoked__isnull=True, access_token_id=row.access_token_id
    ).update(access_token=None, revoked=now, updated=now)
    if not claimed:
        return False
    # The old access token stops working with the refresh token it came with. Nothing else
    # points at it (the UPDATE above cleared the only pointer), so one DELETE does what the
    # delete collector did in three.
    database = router.db_for_write(AccessToken)
    quote = connections[database].ops.quote_name
    with connections[database].cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {quote(AccessToken._meta.db_table)} "  # noqa: S608  (names, not input)
            f"WHERE {quote(AccessToken._meta.pk.column)} = %s",
            [row.access_token_id],
        )
    return True


def rotated_by_another(row: Any) -> bool:
    """For a grant whose ``revoke_for_rotation`` found the token no longer live: whether a
    parallel grant with the same token rotated it (its successor access token exists), rather
    than a revocation of the token or of its family. Locks as the toolkit does, the refresh
    token first, then the access token, so it cannot deadlock with ``revoke_family``."""
    list(RefreshToken.objects.select_for_update().filter(pk=row.pk).values_list("pk", flat=True))
    successor = (
        AccessToken.objects.select_for_update()
        .filter(source_refresh_token_id=row.pk)
        .values_list("pk", flat=True)
        .first()
    )
    return successor is not None
