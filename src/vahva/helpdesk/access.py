"""Who may open the helpdesk pages: signed-in staff with the permission ``helpdesk.access``
(superusers have every permission). The sign-in log and the adoption page use it too."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import quote

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from vahva.accounts.models import User

from .errors import NotAllowed

PERMISSION = "helpdesk.access"

View = Callable[..., HttpResponseBase]


def may_use(user: User | AnonymousUser) -> bool:
    return bool(
        user.is_authenticated
        and isinstance(user, User)
        and user.is_active
        and user.is_staff
        and user.has_perm(PERMISSION)
    )


def helpdesk_required(view: View) -> View:
    """Signed out: to the sign-in page and back. Signed in without the permission: 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            here = quote(request.get_full_path(), safe="/")
            return redirect(f"{reverse('signin:password')}?next={here}")
        if not may_use(request.user):
            # Privilege escalation: a person's own session cannot reach other people's data.
            return render(
                request,
                "web/error.html",
                {
                    "title": _("Not allowed"),
                    "message": _("The helpdesk tools are for helpdesk staff only."),
                },
                status=403,
            )
        return view(request, *args, **kwargs)

    return wrapper


def check_may_act(agent: Any, user: User) -> None:
    """NotAllowed when ``agent`` may not change ``user``'s sign-in."""
    if agent.pk == user.pk:
        # Self-service bypass: an agent does not issue themself a pass or an exemption.
        raise NotAllowed(
            _("You cannot use the helpdesk tools on your own account. Ask a colleague.")
        )
    if (user.is_staff or user.is_superuser) and not agent.is_superuser:
        # Privilege escalation: a helpdesk agent cannot take over an administrator's (or
        # another agent's) account with a pass, an exemption or a removed phone.
        raise NotAllowed(
            _("Only an administrator can change the sign-in of staff and administrators.")
        )
