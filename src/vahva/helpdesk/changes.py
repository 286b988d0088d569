"""The helpdesk's changes to a person's sign-in: methods and app devices removed, exemptions,
sign-out everywhere, lockouts cleared, and the actions the sign-in methods add."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from vahva import clock
from vahva.accounts.models import User
from vahva.errors import VahvaError

from . import method_actions, service
from .forms import ExemptionForm, TicketForm
from .pages import (
    confirmed_action,
    error_page,
    finished,
    last_method_warning,
    local_time,
    person_page,
    person_view,
    ticket_action,
)

# --- methods and devices -------------------------------------------------------------------


@person_view("GET", "POST")
def remove_method(request: HttpRequest, user: User, method_id: int) -> HttpResponse:
    try:
        row = service.method_of(user, method_id)
    except VahvaError as exc:
        return error_page(request, exc)

    def act(ticket: str) -> str:
        label = service.remove_method(
            user, method_id, ticket=ticket, actor=request.user, request=request
        )
        return _("%(method)s was removed.") % {"method": label}

    return confirmed_action(
        request,
        user,
        title=_("Remove a sign-in method"),
        what=_("%(method)s can no longer be used to sign in.") % {"method": row.label},
        button=_("Remove method"),
        act=act,
        warning=last_method_warning(user, [row.registered.pk]),
    )


@person_view("GET", "POST")
def remove_device(request: HttpRequest, user: User, device_id: Any) -> HttpResponse:
    try:
        device = service.device_of(user, device_id)
    except VahvaError as exc:
        return error_page(request, exc)

    def act(ticket: str) -> str:
        name = service.remove_device(
            user, device.pk, ticket=ticket, now=clock.now(), actor=request.user, request=request
        )
        return _("The device “%(device)s” was removed.") % {"device": name}

    return confirmed_action(
        request,
        user,
        title=_("Remove a device"),
        what=_(
            "“%(device)s” no longer gets sign-in requests, its answers and codes are refused, "
            "and its vahva app method is removed."
        )
        % {"device": device.name},
        button=_("Remove device"),
        act=act,
        warning=last_method_warning(user, [m.pk for m in service.methods_of_device(user, device)]),
    )


# --- exemptions ----------------------------------------------------------------------------


@person_view("POST")
def grant_exemption(request: HttpRequest, user: User) -> HttpResponse:
    def act(form: ExemptionForm) -> HttpResponse:
        exemption = service.grant_exemption(
            user,
            ticket=form.cleaned_data["ticket"],
            reason=form.cleaned_data["reason"],
            expires_at=form.expires_at(),
            now=clock.now(),
            actor=request.user,
            request=request,
        )
        return finished(
            request,
            user,
            _("The exemption was granted until %(time)s.")
            % {"time": local_time(exemption.expires_at)},
        )

    return ticket_action(request, user, "exemption", ExemptionForm, act)


@person_view("GET", "POST")
def revoke_exemption(request: HttpRequest, user: User, exemption_id: int) -> HttpResponse:
    try:
        exemption = service.exemption_of(user, exemption_id)
    except VahvaError as exc:
        return error_page(request, exc)

    def act(ticket: str) -> str:
        service.revoke_exemption(
            user, exemption.pk, ticket=ticket, now=clock.now(), actor=request.user, request=request
        )
        return _("The exemption was revoked.")

    return confirmed_action(
        request,
        user,
        title=_("Revoke an exemption"),
        what=_("From now on the person is asked for a second factor again (ticket %(ticket)s).")
        % {"ticket": exemption.ticket},
        button=_("Revoke exemption"),
        act=act,
    )


# --- sessions and lockouts -----------------------------------------------------------------


@person_view("POST")
def sign_out(request: HttpRequest, user: User) -> HttpResponse:
    def act(form: TicketForm) -> HttpResponse:
        service.sign_out_everywhere(
            user, ticket=form.cleaned_data["ticket"], actor=request.user, request=request
        )
        return finished(request, user, _("The person was signed out everywhere."))

    return ticket_action(request, user, "signout", TicketForm, act)


@person_view("POST")
def unlock(request: HttpRequest, user: User) -> HttpResponse:
    def act(form: TicketForm) -> HttpResponse:
        service.clear_lockout(
            user,
            ticket=form.cleaned_data["ticket"],
            now=clock.now(),
            actor=request.user,
            request=request,
        )
        return finished(
            request, user, _("The wrong codes were forgotten: the person can try again.")
        )

    return ticket_action(request, user, "unlock", TicketForm, act)


# --- what the sign-in methods add ------------------------------------------------------------


@person_view("POST")
def method_action(request: HttpRequest, user: User, kind: str, action: str) -> HttpResponse:
    """An action a method offers on the person page (a hardware token's resync...)."""
    done, refused = method_actions.act(request, user, kind, action)
    if refused is None:
        return method_actions.done(request, user, done)
    if isinstance(refused, VahvaError):
        if refused.status in (403, 404):
            return error_page(request, refused)
        return person_page(
            request,
            user,
            status=refused.status,
            error=_("Nothing was changed: %(reason)s") % {"reason": refused.message},
        )
    return person_page(request, user, status=400, error=" ".join(refused.errors.get("ticket", [])))
