"""django-oauth-toolkit's request validator with vahva's rules.

- ``sub`` is the person's stable public id, never the e-mail address (which can change).
- The ID token carries ``amr``, ``acr`` and ``auth_time`` of the sign-in behind the code,
  also when it is refreshed.
- PKCE (S256) is required of every client (RFC 9700 §2.1.1), unless the admin lets a
  confidential client off; a verifier for a code issued without a challenge is refused
  (PKCE downgrade, RFC 9700 §4.8).
- An authorization code is redeemed at most once, even by two parallel requests; a second
  redemption revokes every token the first one got (RFC 6749 §4.1.2).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit

from django.db.models import F
from django.utils import timezone
from jwcrypto import jwt
from oauth2_provider.models import (
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
)
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors

from vahva import clock
from vahva.audit.log import record
from vahva.conf import settings
from vahva.signin import requirements

from . import rotation
from .claims import ACR_PHR
from .models import Authorization, Service, code_hash

Application = get_application_model()
Grant = get_grant_model()
RefreshToken = get_refresh_token_model()

#: (the signed ID token, its IDToken row) just made by this request's grant.
_just_signed: contextvars.ContextVar[tuple[str, Any] | None] = contextvars.ContextVar(
    "vahva_oidc_just_signed", default=None
)


class Validator(OAuth2Validator):  # type: ignore[misc]
    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        user = request.user
        return {
            "name": user.get_full_name(),
            "email": user.email,
            # The organisation's directory is the source of the address.
            "email_verified": True,
        }

    def get_claim_dict(self, request: Any) -> dict[str, Any]:
        claims: dict[str, Any] = super().get_claim_dict(request)
        # A stable identifier that says nothing about the person and survives renames.
        claims["sub"] = str(request.user.public_id)
        return claims

    def is_pkce_required(self, client_id: str, request: Any) -> bool:
        """PKCE for every client (RFC 9700 §2.1.1), but a confidential one let off in the admin."""
        client = getattr(request, "client", None)
        if client is None or client.client_id != client_id:
            client = Application.objects.filter(client_id=client_id).first()
        if client is None or client.client_type == Application.CLIENT_PUBLIC:
            # Unknown clients fail elsewhere; ask for PKCE so nothing slips through meanwhile.
            return True
        service = Service.objects.filter(application=client).first()
        return not (service is not None and service.allow_without_pkce)

    def _create_authorization_code(
        self, request: Any, code: dict[str, Any], expires: Any = None
    ) -> Any:
        signed_in = getattr(request, "vahva_auth", None)
        if signed_in is None:
            # Only vahva's authorize view issues codes, and it always says how the person
            # signed in; a code without that would carry no amr/acr.
            raise RuntimeError("authorization code issued without a sign-in")
        grant = super()._create_authorization_code(request, code, expires)
        Authorization.objects.create(
            code_hash=code_hash(code["code"]),
            application=request.client,
            user=request.user,
            auth_time=signed_in["auth_time"],
            amr=list(signed_in["amr"]),
            acr=signed_in["acr"],
            created_at=clock.now(),
            session=signed_in.get("session", ""),
        )
        return grant

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        digest = code_hash(code)
        # Claim the code with one conditional UPDATE: of two parallel redemptions only one
        # matches, so a code can never be exchanged twice.
        claimed = Authorization.objects.filter(
            code_hash=digest, application=client, redeemed_at=None
        ).update(redeemed_at=clock.now())
        if not claimed:
            self._refuse_replay(digest, request)
            return False
        challenge = (
            Grant.objects.filter(code=code, application=client)
            .values_list("code_challenge", flat=True)
            .first()
        )
        if request.code_verifier is not None and challenge == "":
            # PKCE downgrade (RFC 9700 §4.8): a code issued without a challenge, redeemed with
            # a verifier, is a sign that a code was injected; never exchanged.
            record(
                "oidc.pkce_downgrade",
                outcome="failure",
                reason="a code issued without a PKCE challenge was presented with a verifier",
                service=str(client.name),
            )
            return False  # the code stays used: it was spent on the attempt
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            return False
        request.vahva_authorization = Authorization.objects.get(code_hash=digest)
        return True

    def _refuse_replay(self, digest: str, request: Any) -> None:
        used = Authorization.objects.filter(code_hash=digest, redeemed_at__isnull=False).first()
        if used is None:
            return
        # A code redeemed twice was intercepted: what the first redemption got may be in an
        # attacker's hands, so revoke it (RFC 6749 §4.1.2, RFC 9700 §4.5).
        if used.token_family:
            RefreshToken.revoke_family(used.token_family)
        record(
            "oidc.code_replayed",
            subject=used.user,
            outcome="failure",
            reason="an authorization code was presented a second time; its tokens are revoked",
            service=str(used.application.name),
        )

    def _create_refresh_token(
        self, request: Any, refresh_token_code: str, access_token: Any, previous: Any
    ) -> Any:
        token = super()._create_refresh_token(request, refresh_token_code, access_token, previous)
        authorization = getattr(request, "vahva_authorization", None)
        if authorization is not None and authorization.token_family is None:
            Authorization.objects.filter(pk=authorization.pk).update(
                token_family=token.token_family
            )
        return token

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        valid = self._refresh_token_valid(refresh_token, client, request, *args, **kwargs)
        instance = getattr(request, "refresh_token_instance", None)
        if valid and instance is not None and instance.token_family:
            # With the service's rule for the door in the same statement: its one column, not
            # the application's and the service's rows (one authorization per family).
            request.vahva_authorization = next(
                iter(
                    Authorization.objects.filter(token_family=instance.token_family).annotate(
                        service_rule=F("application__vahva_service__mfa_rule")
                    )[:1]
                ),
                None,
            )
            person = getattr(request, "user", None)
            if (
                request.vahva_authorization is not None
                and getattr(person, "pk", None) == request.vahva_authorization.user_id
            ):
                # The same person the toolkit just read with the refresh token: not read again.
                request.vahva_authorization.user = person
            if request.vahva_authorization is not None and not self._still_enough(
                request.vahva_authorization, client
            ):
                return False
        return valid

    def _refresh_token_valid(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """The toolkit's ``validate_refresh_token``, for a live token in one read instead of
        three (vahva.oidc.rotation); a revoked one is the toolkit's to judge."""
        row = rotation.find_live(refresh_token)
        if row is None:
            # Unknown, or a rotated or revoked token presented again: the toolkit's reuse
            # detection (a replay revokes the whole family) and its grace period decide.
            return bool(
                super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)
            )
        if not rotation.live_and_in_date(row, now=timezone.now()):
            return False
        request.user = row.user
        # The raw token presented, as the toolkit keeps it (the stored column may be blank).
        request.refresh_token = refresh_token
        request.refresh_token_instance = row
        # A refresh token issued to another service is refused (the client is authenticated
        # and loaded: compared by id, not read again).
        return bool(row.application_id == client.pk)

    def _save_bearer_token(self, token: Any, request: Any, *args: Any, **kwargs: Any) -> None:
        """The toolkit's, but a live refresh token is rotated in two statements instead of
        nine (vahva.oidc.rotation); runs inside the toolkit's ``save_bearer_token``
        transaction."""
        row = getattr(request, "refresh_token_instance", None)
        if not (
            request.grant_type == "refresh_token"
            and "scope" in token
            and token.get("refresh_token")
            and self.rotate_refresh_token(request)
            and isinstance(row, RefreshToken)
            and row.revoked is None
            and row.access_token_id is not None
            and not rotation.toolkit_signals_heard()
        ):
            super()._save_bearer_token(token, request, *args, **kwargs)
            return
        self._check_and_set_request_resource(request)
        now = timezone.now()
        expires = now + dt.timedelta(
            seconds=token.get("expires_in", oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS)
        )
        if not rotation.revoke_for_rotation(row, now=now):
            if not rotation.rotated_by_another(row):
                # Its family was revoked while this grant was under way (a replay detected, a
                # sign-out everywhere): the toolkit would mint a new pair into the revoked
                # family, a live token the revocation missed. Refused; nothing is written.
                raise errors.InvalidGrantError(request=request)
            # A parallel grant with the same token (a retry) rotated it: the toolkit's own
            # path answers with the pair that grant minted.
            super()._save_bearer_token(token, request, *args, **kwargs)
            return
        request.refresh_token_instance = None  # as the toolkit does once it has revoked it
        access_token = self._create_access_token(expires, request, token, source_refresh_token=row)
        self._create_refresh_token(request, token["refresh_token"], access_token, row)

    def _still_enough(self, authorization: Authorization, client: Any) -> bool:
        """The door, for new tokens from an old sign-in: refused (invalid_grant: the service
        sends the person to sign in again) when it no longer satisfies the service."""
        if authorization.application_id == client.pk:
            # Read with the authorization (None when the application has no settings row).
            rule = getattr(authorization, "service_rule", None)
        else:
            rule = (
                Service.objects.filter(application=client)
                .values_list("mfa_rule", flat=True)
                .first()
            )
        requirement = requirements.Requirement(
            service=str(client.name),
            rule=requirements.ServiceRule(rule if rule is not None else "outside_trusted"),
        )
        signed_in = requirements.Authentication(
            at=authorization.auth_time,
            amr=tuple(authorization.amr),
            known_phishing_resistant=authorization.acr == ACR_PHR,
        )
        now = clock.now()
        if (now - authorization.auth_time).total_seconds() > settings.OIDC_REFRESH_MAX_AGE:
            # A stolen refresh token, used often enough, would otherwise renew forever (the
            # toolkit's expiry counts from the last use): the sign-in's own age bounds it.
            reason = "the sign-in behind the token is older than the refresh tokens' lifetime"
        else:
            step = requirements.renewal_step(authorization.user, signed_in, requirement, now=now)
            if step.issue:
                return True
            reason = (
                f"the sign-in behind the token no longer satisfies the service ({step.outcome})"
            )
        record(
            "oidc.refresh_refused",
            subject=authorization.user,
            outcome="failure",
            reason=reason,
            service=str(client.name),
        )
        return False

    def get_id_token_dictionary(
        self, token: Any, token_handler: Any, request: Any
    ) -> tuple[dict[str, Any], dt.datetime]:
        claims, expires = super().get_id_token_dictionary(token, token_handler, request)
        authorization = getattr(request, "vahva_authorization", None)
        if authorization is not None:
            # OIDC Core §12.2: a refreshed ID token keeps the original auth_time.
            claims["auth_time"] = int(authorization.auth_time.timestamp())
            claims["amr"] = list(authorization.amr)
            claims["acr"] = authorization.acr
        return claims, expires

    def finalize_id_token(self, id_token: Any, token: Any, token_handler: Any, request: Any) -> str:
        """The toolkit's: the claims, signed once; but its row is one INSERT, atomic on its
        own, instead of BEGIN, INSERT, COMMIT (on SQLite a write lock taken for it alone)."""
        claims, expiration_time = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        # Workaround for oauthlib bug #746, as the toolkit has it.
        if "nonce" not in id_token and request.nonce:
            id_token["nonce"] = request.nonce
        header = {"typ": "JWT", "alg": request.client.algorithm}
        if request.client.algorithm == Application.RS256_ALGORITHM:
            header["kid"] = request.client.jwk_key.thumbprint()
        jwt_token = jwt.JWT(
            header=json.dumps(header, default=str), claims=json.dumps(id_token, default=str)
        )
        jwt_token.make_signed_token(request.client.jwk_key)
        row = self._save_id_token(id_token["jti"], request, expiration_time)
        request.access_token = row
        request.id_token = row
        signed: str = jwt_token.serialize()
        _just_signed.set((signed, row))
        return signed

    def _load_id_token(self, token: str) -> Any:
        """The toolkit links the new access token to its ID token by parsing the ID token it
        has just signed, verifying its signature, and reading the application and the ID
        token's row back by the claims. The very string this grant signed a moment ago (an
        exact match, so nothing from outside) is answered with the row it saved instead."""
        just = _just_signed.get()
        if just is not None and just[0] == token:
            _just_signed.set(None)
            return just[1]
        return super()._load_id_token(token)

    def validate_redirect_uri(
        self, client_id: str, redirect_uri: str, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        # A malformed URI (a port out of range, a bad IPv6 literal) is simply not one of the
        # service's: refused as a mismatch (400) instead of reaching the toolkit's comparison,
        # which raises on it (a 500).
        if not well_formed_uri(redirect_uri):
            return False
        return bool(
            super().validate_redirect_uri(client_id, redirect_uri, request, *args, **kwargs)
        )

    def validate_silent_login(self, request: Any) -> bool:
        # prompt=none: whether the browser's sign-in is enough is decided by the authorize
        # view, which knows the session (login_required goes back to the service from there).
        return True

    def validate_silent_authorization(self, request: Any) -> bool:
        return True

    def validate_user_match(
        self, id_token_hint: str | None, scopes: Any, claims: Any, request: Any
    ) -> bool:
        """An ``id_token_hint`` must be an ID token this server signed (expired is fine)."""
        if not id_token_hint:
            return True
        return signed_by_us(id_token_hint)


def well_formed_uri(uri: str) -> bool:
    """Whether ``uri`` parses with a valid port (urllib raises on reading a bad one)."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (reading it is the check)
    except ValueError:
        return False
    return bool(parts.scheme)


def signed_by_us(token: str) -> bool:
    """Whether ``token`` is a JWS made with one of our signing keys (active or retired)."""
    from jwcrypto import jwk, jws
    from jwcrypto.common import JWException
    from oauth2_provider.settings import oauth2_settings

    pems = [oauth2_settings.OIDC_RSA_PRIVATE_KEY, *oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE]
    for pem in pems:
        key = jwk.JWK.from_pem(pem.encode("ascii"))
        try:
            signed = jws.JWS()
            signed.deserialize(token)
            signed.verify(key, alg="RS256")
        except (JWException, ValueError, TypeError):
            continue
        return True
    return False
