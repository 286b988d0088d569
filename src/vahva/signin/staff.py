"""Staff pages (the admin site, the helpdesk tools) pass the door like any service.

Helpdesk and admin accounts reach everyone's methods and passes, so a stolen staff password
must not be enough: the door asks a second factor of staff always (no trusted-network skip,
no exemption, no "Not now"; a security key with ``STAFF_PHISHING_RESISTANT``), and a staff
session signed in some other way is sent to sign in again before any staff page answers.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from .requirements import Outcome, Requirement, ServiceRule, is_staff, step_for
from .responses import cannot_continue

#: The staff areas; /admin/login/ is vahva's own redirect to its sign-in (vahva.web.views).
STAFF_PATHS = ("/admin/", "/helpdesk/")
OPEN = ("/admin/login/",)


def staff_requirement(request: HttpRequest) -> Requirement:
    return Requirement(
        service=_("the staff tools"),
        rule=ServiceRule.ALWAYS,
        next_url=request.get_full_path(),
    )


class StaffAreaMiddleware:
    """Staff pages only for a staff session that passed the door (a second factor)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.path.startswith(STAFF_PATHS)
            and not request.path.startswith(OPEN)
            and request.user.is_authenticated
            and is_staff(request.user)
        ):
            requirement = staff_requirement(request)
            step = step_for(request, requirement)
            if not step.issue:
                if step.outcome in (Outcome.SIGN_IN, Outcome.REGISTER):
                    # MFA bypass: a staff password alone (or a session from before the
                    # person became staff) reaches no staff page, GET or POST.
                    return redirect(step.url)
                return cannot_continue(request, step, requirement, action="staff.refused")
        # Everyone else: the pages themselves refuse people who are not staff (403).
        return self.get_response(request)
