"""Sign-in by bind: django-auth-ldap checks the password by binding as the person.

The directory decides; vahva keeps no copy of the password. What this subclass adds:
- the settings come from ``[vahva.directory]`` (no ``AUTH_LDAP_*`` in Django's settings);
- people are matched by the entry's immutable id (:mod:`.people`), not by the typed name;
- a person the directory knows but whose bind fails is refused here: no fall-through to a
  local password (an old one from before the directory would otherwise still work);
- a directory that does not answer raises :class:`DirectoryUnavailable` (a 503 page), except
  for a local break-glass admin, whom ModelBackend checks next.
"""

from __future__ import annotations

from typing import Any

import ldap
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest
from django_auth_ldap.backend import LDAPBackend, ldap_error
from django_auth_ldap.config import LDAPSearch, LDAPSettings

from vahva import clock
from vahva.accounts.models import User, normalise_email
from vahva.audit.log import record

from . import lookups, people
from .config import DirectoryConfig
from .connection import DirectoryUnavailable, options
from .entries import UnusableEntry, person_from
from .models import DirectoryLink
from .service import current_config


def ldap_settings(config: DirectoryConfig) -> LDAPSettings:
    search = LDAPSearch(
        config.user_base, ldap.SCOPE_SUBTREE, config.user_filter, config.read_attributes()
    )
    return LDAPSettings(
        "VAHVA_DIRECTORY_UNUSED_",  # nothing is read from Django's settings
        {
            "SERVER_URI": config.uri,
            "START_TLS": config.start_tls,
            "BIND_DN": config.bind_dn,
            "BIND_PASSWORD": config.bind_password,
            "CONNECTION_OPTIONS": options(config),
            "USER_SEARCH": search,
            "USER_ATTRLIST": config.read_attributes(),
            # vahva applies the entry itself (people.apply), matched by immutable id.
            "ALWAYS_UPDATE_USER": False,
        },
    )


class DirectoryBackend(LDAPBackend):  # type: ignore[misc]
    _settings: LDAPSettings | None = None
    _for: DirectoryConfig | None = None

    @property
    def settings(self) -> LDAPSettings:
        config = current_config()
        if self._settings is None or self._for is not config:
            self._settings, self._for = ldap_settings(config), config
        return self._settings

    @settings.setter
    def settings(self, value: LDAPSettings) -> None:
        self._settings = value

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if not current_config().enabled or not username or "\x00" in username:
            # (A NUL never names anyone; PostgreSQL cannot even store one.)
            return None
        try:
            return super().authenticate(request, username=username, password=password, **kwargs)  # type: ignore[no-any-return]
        except DirectoryUnavailable as exc:
            if _break_glass(username):
                # The directory is down and this is a local admin: ModelBackend decides.
                return None
            record(
                "directory.unavailable",
                request=request,
                outcome="failure",
                reason=str(exc.__cause__ or exc)[:300],
            )
            raise

    def authenticate_ldap_user(self, ldap_user: Any, password: str) -> User | None:
        user = ldap_user.authenticate(password)
        if user is None and ldap_user._user_dn is not None:
            # Known to the directory, and the directory said no (wrong password, disabled):
            # no other backend may say yes with a local password.
            raise PermissionDenied
        return user  # type: ignore[no-any-return]

    def get_or_build_user(self, username: str, ldap_user: Any) -> tuple[User, bool]:
        config = current_config()
        conn = ldap_user.connection
        try:
            person = person_from(
                config,
                ldap_user.dn,
                ldap_user.attrs or {},
                group_dns=lookups.group_dns(config, conn, ldap_user.dn, ldap_user.attrs),
                disabled=lookups.is_disabled(config, conn, ldap_user.dn),
            )
        except UnusableEntry as exc:
            raise ldap_user.AuthenticationFailed(str(exc)) from None
        applied = people.apply(config, person, now=clock.now())
        if applied.user is None or not applied.user.is_active:
            raise ldap_user.AuthenticationFailed(applied.detail or "disabled in the directory")
        return applied.user, False

    def get_user(self, user_id: Any) -> User | None:
        # As ModelBackend (sign-in logs people in with it); no directory search per request.
        return User.objects.filter(pk=user_id, is_active=True).first()


def _break_glass(username: str) -> bool:
    """A local superuser with a password of their own, not linked to the directory."""
    user = User.objects.filter(email=normalise_email(username), is_superuser=True).first()
    return bool(
        user is not None
        and user.has_usable_password()
        and not DirectoryLink.objects.filter(user=user).exists()
    )


@receiver(ldap_error, sender=DirectoryBackend, dispatch_uid="vahva.directory.unreachable")
def _unreachable(sender: Any, context: str, exception: Exception, **kwargs: Any) -> None:
    """django-auth-ldap logs an LDAPError and answers "no"; vahva cannot tell "no" from "no
    answer" then, so the sign-in stops with a 503 (fail closed, never a local fallback)."""
    raise DirectoryUnavailable() from exception
