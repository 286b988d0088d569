"""The person who signs in. The e-mail address is the username, from the first migration."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import PermissionDenied
from django.db import models, router
from django.db.models import F
from django.db.models.functions import Lower
from django.db.models.signals import post_save, pre_save
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from vahva import clock, prepared
from vahva.web import memo

if TYPE_CHECKING:
    from django.http import HttpRequest


def normalise_email(email: str) -> str:
    """Trim and lower-case the whole address, so Alice@Example.org is alice@example.org."""
    return email.strip().lower()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=normalise_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        """``self.get(email=normalise_email(username))``, as one statement written once
        (:func:`by_email`): ModelBackend asks this at every password sign-in, just after the
        sign-in has read the same row to find the person's throttle key (read once)."""
        found = by_email(normalise_email(username or ""), using=self.db)
        if found is None:
            raise self.model.DoesNotExist(
                f"{self.model._meta.object_name} matching query does not exist."
            )
        return found


class User(AbstractBaseUser, PermissionsMixin):
    # A stable, opaque id for services (OIDC `sub`): the e-mail address may change.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(_("e-mail address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True)
    #: The mobile number the organisation's systems have for the person (the directory, a
    #: provisioning client): offered in the setup wizard, never used before a text or call to
    #: it has proved it is theirs.
    mobile_in_system = models.CharField(_("mobile number in the system"), max_length=64, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff"), default=False)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)
    # Part of every session's hash: raising it ends all of the person's sessions at once
    # ("sign out everywhere"), as a new password does.
    session_epoch = models.PositiveIntegerField(default=0, editable=False)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["full_name"]

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django's own hash (of the password), plus the epoch once it has been raised: a stolen
        # session cookie stops working when the helpdesk signs the person out everywhere.
        value = self.password if not self.session_epoch else f"{self.password}:{self.session_epoch}"
        return salted_hmac(
            "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
            value,
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Django keeps the new raw password in _password until the save (and clears it for the
        # hash upgrade at sign-in, which is not a change of password).
        changed = getattr(self, "_password", None) is not None and self.pk is not None
        super().save(*args, **kwargs)
        if changed:
            from .signals import password_changed

            password_changed.send(sender=type(self), user=self)

    def sign_out_everywhere(self) -> None:
        """End every session of this person (and tell the rooms that keep their own)."""
        type(self).objects.filter(pk=self.pk).update(session_epoch=F("session_epoch") + 1)
        self.refresh_from_db(fields=["session_epoch"])
        from .signals import signed_out_everywhere

        signed_out_everywhere.send(sender=type(self), user=self)

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        ordinary = obj is None and self.is_active and not self.is_superuser and self.pk
        if ordinary and not hasattr(self, "_perm_cache"):
            # ModelBackend reads the person's own and their groups' permissions in two
            # statements (and keeps the set here); one UNION gives the same set. Asked on
            # every sign-in and refresh grant (is this person staff?).
            self._perm_cache = own_and_group_permissions(self)
        return super().has_perm(perm, obj)

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


def by_email(email: str, *, using: str | None = None) -> User | None:
    """The person whose e-mail address is exactly ``email`` (normalise it first), as
    ``User.objects.filter(email=email).first()`` finds them, without its ORDER BY (the address
    is unique).

    One statement written once per process (:mod:`vahva.prepared`), and read once per request
    (:mod:`vahva.web.memo`): the password step reads the person to find their throttle key,
    then ModelBackend reads them by the same address (``get_by_natural_key``); a write to the
    people's table in the request reads them again. Each call gets an instance of its own."""
    using = using or router.db_for_read(User)

    def load() -> tuple[Any, ...] | None:
        sql = prepared.statement("accounts.by_email", _by_email, using=using)
        found = prepared.rows(sql, [email], using=using)
        return tuple(found[0]) if found else None

    row = memo.remembered(User._meta.db_table, ("email", using, email), load)
    if row is None:
        return None
    person = prepared.from_row(User, row, using=using)
    assert isinstance(person, User)
    return person


def _by_email(quote: Callable[[str], str]) -> str:
    # Names from the model, quoted; the address is a parameter.
    return (
        f"SELECT {prepared.columns(User, quote)} FROM {prepared.table(User, quote)} "  # noqa: S608
        f"WHERE {quote(prepared.column(User, 'email'))} = %s LIMIT 1"
    )


def record_last_login(sender: Any, user: Any, **kwargs: Any) -> None:
    """Django's ``update_last_login`` (a receiver of ``user_logged_in``) as one UPDATE written
    once (:mod:`vahva.prepared`), instead of ``user.save(update_fields=["last_login"])``
    built by the ORM at every sign-in; ``pre_save``/``post_save`` are sent as that save sends
    them."""
    model = type(user)
    if not isinstance(user, User):
        # Another user model (none in vahva): Django's own receiver.
        from django.contrib.auth.models import update_last_login

        update_last_login(sender, user, **kwargs)
        return
    using = router.db_for_write(model, instance=user)
    user.last_login = clock.now()
    fields = frozenset({"last_login"})
    pre_save.send(sender=model, instance=user, raw=False, using=using, update_fields=fields)
    sql = prepared.statement("accounts.last_login", _last_login, using=using)
    # prepared.execute stores the datetime as the ORM does (prepared.adapt).
    prepared.execute(sql, [user.last_login, user.pk], using=using)
    post_save.send(
        sender=model, instance=user, created=False, update_fields=fields, raw=False, using=using
    )


def _last_login(quote: Callable[[str], str]) -> str:
    # As the ORM's UPDATE of save(update_fields=["last_login"]); the time and id are parameters.
    table = prepared.table(User, quote)
    return (
        f"UPDATE {table} SET {quote(prepared.column(User, 'last_login'))} = %s "  # noqa: S608
        f"WHERE {table}.{quote(prepared.column(User, 'id'))} = %s"
    )


def own_and_group_permissions(user: User) -> set[str]:
    """``"app_label.codename"`` of the person's permissions, given to them or to a group of
    theirs: ModelBackend's set for an active non-superuser, in one statement, written once
    per process (:mod:`vahva.prepared`; the ORM built this UNION on every sign-in and refresh
    grant, half a millisecond of CPU)."""
    using = router.db_for_read(type(user))
    sql = prepared.statement("accounts.permissions", _permissions, using=using)
    return {
        f"{app}.{codename}" for app, codename in prepared.rows(sql, [user.pk, user.pk], using=using)
    }


def _permissions(quote: Callable[[str], str]) -> str:
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    def name(model: Any, field: str | None = None) -> str:
        """A model's table, or one of its columns, quoted."""
        if field is None:
            return prepared.table(model, quote)
        return quote(prepared.column(model, field))

    own, member = User.user_permissions.through, User.groups.through
    granted = Group.permissions.through
    # The permission with its app: the same two columns in both halves of the UNION. Names
    # from the models, quoted; the person's id is the only value, a parameter.
    named = (
        f"SELECT ct.{name(ContentType, 'app_label')}, p.{name(Permission, 'codename')} "  # noqa: S608
        f"FROM {name(Permission)} p JOIN {name(ContentType)} ct "
        f"ON ct.{name(ContentType, 'id')} = p.{name(Permission, 'content_type')}"
    )
    permission_id = f"p.{name(Permission, 'id')}"
    return " ".join(
        [
            named,
            f"JOIN {name(own)} o ON o.{name(own, 'permission')} = {permission_id}",
            f"WHERE o.{name(own, 'user')} = %s",
            "UNION",
            named,
            f"JOIN {name(granted)} g ON g.{name(granted, 'permission')} = {permission_id}",
            f"JOIN {name(member)} m ON m.{name(member, 'group')} = g.{name(granted, 'group')}",
            f"WHERE m.{name(member, 'user')} = %s",
        ]
    )


def signed_in(request: HttpRequest) -> User:
    """The signed-in person of a view behind ``login_required``; PermissionDenied (403) if
    there is none (a view reached without the decorator fails closed)."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied()
    return user
