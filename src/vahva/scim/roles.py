"""Groups that give a role (``VAHVA["SCIM_GROUP_ROLES"]``): membership is the source of truth
for the roles a group maps, and nothing else is touched.

- ``helpdesk``: staff + the ``helpdesk.access`` permission;
- ``admin``: staff + superuser.

Staff always sign in with a second factor (the door decides that, not this module).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Permission

from vahva.accounts.models import User
from vahva.audit.log import record
from vahva.conf import settings

from .audit import Action


def _mapped() -> dict[str, str]:
    # Group names compare without regard to case, as SCIM's displayName does.
    return {name.casefold(): role for name, role in dict(settings.SCIM_GROUP_ROLES).items()}


def _helpdesk_permission() -> Permission:
    return Permission.objects.get(content_type__app_label="helpdesk", codename="access")


def apply(users: Iterable[User], *, client: str, request: Any = None) -> None:
    """Bring the mapped roles of ``users`` in line with their groups; audited."""
    mapped = _mapped()
    if not mapped:
        return
    permission = _helpdesk_permission()
    for user in users:
        names = user.scim_groups.values_list("display_name", flat=True)
        wanted = {mapped[name.casefold()] for name in names if name.casefold() in mapped}
        lost = False
        helpdesk = user.user_permissions.filter(pk=permission.pk).exists()
        if "helpdesk" in mapped.values() and helpdesk != ("helpdesk" in wanted):
            helpdesk = "helpdesk" in wanted
            if helpdesk:
                user.user_permissions.add(permission)
            else:
                user.user_permissions.remove(permission)
                lost = True
            _audit(_change(helpdesk), user, "helpdesk", client, request)
        if "admin" in mapped.values() and user.is_superuser != ("admin" in wanted):
            user.is_superuser = "admin" in wanted
            lost = lost or not user.is_superuser
            _audit(_change(user.is_superuser), user, "admin", client, request)
        staff = helpdesk or user.is_superuser
        # Staff status follows the roles it came with; a role lost takes it away too.
        if staff or lost:
            user.is_staff = staff
        user.save(update_fields=["is_staff", "is_superuser"])


def _change(granted: bool) -> Action:
    return Action.ROLE_GRANTED if granted else Action.ROLE_REVOKED


def _audit(action: Action, user: User, role: str, client: str, request: Any) -> None:
    record(
        action,
        subject=user,
        request=request,
        reason=f"{role} by client {client}",
        client=client,
        role=role,
    )
