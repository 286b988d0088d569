"""Who may open the helpdesk pages: signed-in staff with the permission ``helpdesk.access``
(superusers have every permission). The sign-in log and the adoption page use it too."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import quote

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

PERMISSION = "helpdesk.access"

View = Callable[..., HttpResponseBase]


def may_use(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", False)
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
