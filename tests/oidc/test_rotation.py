"""The refresh grant's rotation in fewer statements (vahva.oidc.rotation) keeps the toolkit's
security properties: the old pair revoked, a replay revoking the family, a token of another
service or out of date refused, and a parallel burst with one token minting one pair."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import inspect
import threading
from typing import Any

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import AccessToken, IDToken, RefreshToken

from tests.oidc.helpers import authorize_url, code_from, exchange, id_token_claims
from tests.oidc.test_flow import sign_in_with_code

#: sha256 of the toolkit's methods as this module's fast path mirrors them (django-oauth-toolkit
#: 3.4.1). A change in one of them fails test_the_toolkit_methods_mirrored_are_unchanged: read
#: the new version against vahva.oidc.rotation and the validator before updating the digest.
MIRRORED = {
    "OAuth2Validator.validate_refresh_token": (
        "50e7ceb3ce23bfecfd26257cb834b5602343a32f65cef7e1c614af4992d31cbc"
    ),
    "OAuth2Validator._save_bearer_token": (
        "bbf80b89d0b5645914c9cfc3081c210bafa76d726f5130be98c191c9c3934b7c"
    ),
    "OAuth2Validator.finalize_id_token": (
        "fda062f4b8116e477dbc7bb8dd7436fc43ee7446cf1a66132f3e898314ebd84e"
    ),
    "AbstractRefreshToken.revoke": (
        "bb264f58c4f57543fb730ced75781e67289794c585158c67c55a6c4665505741"
    ),
    "AbstractAccessToken.revoke": (
        "e21f619fb75714c3bf0fe40cedc78a6e6fffe72cc5f3c2109157e0ce3fb58be5"
    ),
}


def _tokens(client: Client, mail: Any, alice_totp: tuple[Any, str], clock: Any) -> dict[str, Any]:
    _method, secret = alice_totp
    code = code_from(sign_in_with_code(client, secret, clock, authorize_url(mail.client_id)))
    first: dict[str, Any] = exchange(client, mail, code).json()
    return first


def _refresh(client: Client, service: Any, refresh_token: str) -> Any:
    return exchange(client, service, "", grant_type="refresh_token", refresh_token=refresh_token)


def _userinfo(client: Client, access_token: str) -> int:
    status: int = client.get(
        "/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access_token}"
    ).status_code
    return status


def test_the_toolkit_methods_mirrored_are_unchanged() -> None:
    from vahva.oidc.rotation import PINNED

    digests = {}
    for module, name in PINNED:
        found: Any = importlib.import_module(module)
        for part in name.split("."):
            found = getattr(found, part)
        digests[name] = hashlib.sha256(inspect.getsource(found).encode()).hexdigest()
    assert digests == MIRRORED, "django-oauth-toolkit changed: re-read vahva.oidc.rotation"


def test_a_refresh_revokes_the_old_pair_and_links_the_new_id_token(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any
) -> None:
    first = _tokens(client, mail, alice_totp, clock)
    assert _userinfo(client, first["access_token"]) == 200
    answer = _refresh(client, mail, first["refresh_token"])
    assert answer.status_code == 200, answer.content
    second = answer.json()
    # The old access token no longer opens anything; the new one does.
    assert _userinfo(client, first["access_token"]) == 401
    assert _userinfo(client, second["access_token"]) == 200
    old = RefreshToken.objects.get(token=first["refresh_token"])
    assert old.revoked is not None
    assert old.access_token is None
    new = RefreshToken.objects.get(token=second["refresh_token"])
    assert new.revoked is None
    assert new.token_family == old.token_family
    assert new.access_token is not None
    assert new.access_token.source_refresh_token_id == old.pk
    # The new access token carries the ID token this grant signed.
    jti = id_token_claims(client, second["id_token"])["jti"]
    assert new.access_token.id_token == IDToken.objects.get(jti=jti)


def test_a_replayed_refresh_token_revokes_the_newest_pair_too(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any
) -> None:
    first = _tokens(client, mail, alice_totp, clock)
    second = _refresh(client, mail, first["refresh_token"]).json()
    # The attacker replays the stolen, already rotated refresh token.
    replay = _refresh(client, mail, first["refresh_token"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # The whole family is dead: the service's newest tokens as well.
    assert _userinfo(client, second["access_token"]) == 401
    assert _refresh(client, mail, second["refresh_token"]).status_code == 400


def test_another_services_refresh_token_is_refused(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any
) -> None:
    from vahva.oidc import clients

    first = _tokens(client, mail, alice_totp, clock)
    other = clients.add(name="Wiki", redirect_uris=["http://localhost:8002/callback"])
    # Another service (with its own valid secret) presents Mail's refresh token.
    stolen = _refresh(client, other, first["refresh_token"])
    assert stolen.status_code == 400
    assert stolen.json()["error"] == "invalid_grant"
    # Nothing was rotated for it: the token still works for Mail, once.
    assert _userinfo(client, first["access_token"]) == 200
    assert _refresh(client, mail, first["refresh_token"]).status_code == 200


def test_an_orphaned_or_expired_refresh_token_is_refused(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any
) -> None:
    first = _tokens(client, mail, alice_totp, clock)
    row = RefreshToken.objects.get(token=first["refresh_token"])
    # Past REFRESH_TOKEN_EXPIRE_SECONDS after its access token's expiry.
    AccessToken.objects.filter(pk=row.access_token_id).update(
        expires=timezone.now() - dt.timedelta(days=31)
    )
    assert _refresh(client, mail, first["refresh_token"]).status_code == 400
    # Its access token deleted out of band (an admin): nothing left to refresh.
    AccessToken.objects.filter(pk=row.access_token_id).delete()
    assert _refresh(client, mail, first["refresh_token"]).status_code == 400
    assert RefreshToken.objects.filter(token_family=row.token_family).count() == 1


def test_with_a_receiver_on_the_tokens_the_toolkit_rotates(
    alice_totp: tuple[Any, str], mail: Any, client: Client, clock: Any
) -> None:
    saved: list[Any] = []

    def heard(sender: Any, instance: Any, **kwargs: Any) -> None:
        saved.append(instance)

    first = _tokens(client, mail, alice_totp, clock)
    post_save.connect(heard, sender=RefreshToken)
    try:
        with CaptureQueriesContext(connection) as captured:
            answer = _refresh(client, mail, first["refresh_token"])
    finally:
        post_save.disconnect(heard, sender=RefreshToken)
    assert answer.status_code == 200
    # The receiver heard the old token's revocation and the new token, as it would have.
    assert [row.token for row in saved] == [first["refresh_token"], answer.json()["refresh_token"]]
    assert any("SAVEPOINT" in query["sql"] for query in captured.captured_queries)
    assert _userinfo(client, first["access_token"]) == 401


@pytest.mark.django_db(transaction=True)
def test_a_parallel_burst_with_one_refresh_token_mints_one_pair(
    alice_totp: tuple[Any, str], mail: Any, clock: Any
) -> None:
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(":memory"):
        pytest.skip("needs a database shared between threads")
    first = _tokens(Client(), mail, alice_totp, clock)
    answers: list[Any] = []
    barrier = threading.Barrier(6)

    def refresh() -> None:
        try:
            service = Client()
            barrier.wait()
            answers.append(_refresh(service, mail, first["refresh_token"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 6
    assert {answer.status_code for answer in answers} <= {200, 400}
    family = RefreshToken.objects.get(token=first["refresh_token"]).token_family
    # One rotation: the old token and one successor, never two pairs minted from one token.
    assert RefreshToken.objects.filter(token_family=family).count() == 2
    granted = {answer.json()["refresh_token"] for answer in answers if answer.status_code == 200}
    assert len(granted) == 1
    live = RefreshToken.objects.filter(token_family=family, revoked__isnull=True)
    if any(answer.status_code == 400 for answer in answers):
        # A request that came after the rotation was a replay: the whole family is revoked,
        # the pair handed out included; no live token was minted into it afterwards.
        assert not live.exists()
        assert _refresh(Client(), mail, granted.pop()).status_code == 400
    else:
        # Every request raced the rotation and got the one pair it minted (a retry).
        assert {token.token for token in live} == granted


def test_signing_out_everywhere_during_a_grant_leaves_no_live_token(
    alice: Any,
    alice_totp: tuple[Any, str],
    mail: Any,
    client: Client,
    clock: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vahva.oidc.validator import Validator

    first = _tokens(client, mail, alice_totp, clock)
    save = Validator.save_bearer_token

    def signed_out_meanwhile(self: Any, token: Any, request: Any, *args: Any, **kw: Any) -> Any:
        # The helpdesk's "Sign out everywhere" lands after this grant checked the refresh
        # token and before it rotates it (the window two parallel requests can hit).
        alice.sign_out_everywhere()
        return save(self, token, request, *args, **kw)

    monkeypatch.setattr(Validator, "save_bearer_token", signed_out_meanwhile)
    answer = _refresh(client, mail, first["refresh_token"])
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    family = RefreshToken.objects.get(token=first["refresh_token"]).token_family
    # Nothing minted into the revoked family: the sign-out holds.
    assert not RefreshToken.objects.filter(token_family=family, revoked__isnull=True).exists()
    assert RefreshToken.objects.filter(token_family=family).count() == 1
    assert _userinfo(client, first["access_token"]) == 401
