"""The helpdesk pages: find a person, see their sign-in, act for a ticket.

Thin: parse the form, call :mod:`.service`, render. Every page is for staff with the
``helpdesk.access`` permission, is never cached, and every change is a POST with a ticket.
A failed form shows the person page again with the reason (400); an id that is not the
person's is a 404; an account the agent may not change is a 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, wraps
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from vahva import clock, crypto
from vahva.accounts.models import User
from vahva.authenticator import service as authenticator
from vahva.authenticator.errors import UnknownChallenge
from vahva.errors import RateLimited, VahvaError

from . import method_actions, service
from .access import helpdesk_required
from .errors import UnknownItem
from .forms import ONE_TIME, ExemptionForm, PassForm, SearchForm, TicketForm

#: The person page's forms, each with its own prefix (so their fields' ids do not clash).
PAGE_FORMS: dict[str, type[forms.Form]] = {
    "check": TicketForm,
    "pass": PassForm,
    "exemption": ExemptionForm,
    "signout": TicketForm,
    "unlock": TicketForm,
}

Handler = Callable[..., HttpResponse]


def _error(request: HttpRequest, exc: VahvaError, *, title: str = "") -> HttpResponse:
    response = render(
        request,
        "web/error.html",
        {"title": title or _("The helpdesk could not do that"), "message": exc.message},
        status=exc.status,
    )
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def for_person(view: Handler) -> Handler:
    """Look the person up from the URL first: an unknown id is a 404 page, not a 500."""

    @wraps(view)
    def wrapper(request: HttpRequest, person_id: int, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            user = service.person(person_id)
        except VahvaError as exc:
            return _error(request, exc, title=_("Person not found"))
        return view(request, user, *args, **kwargs)

    return wrapper


def person_view(*methods: str) -> Callable[[Handler], Handler]:
    """A page about one person: these HTTP methods only, never cached, for helpdesk staff,
    the person looked up from the URL."""

    def decorate(view: Handler) -> Handler:
        checked = helpdesk_required(for_person(view))
        return cast(Handler, require_http_methods(list(methods))(never_cache(checked)))

    return decorate


def _local(moment: Any) -> str:
    return dateformat.format(timezone.localtime(moment), "j.n.Y H:i")


def _person_url(user: User) -> str:
    return reverse("helpdesk:person", kwargs={"person_id": user.pk})


# --- what the agent's session remembers ------------------------------------------------------

#: The ticket last used on each person's page, by person id: typed once per call, not five
#: times (the agent may change it on any form, and the new one is remembered instead).
SESSION_TICKETS = "helpdesk.tickets"
#: A pass between its POST and the one page that shows it (post/redirect/get), encrypted.
SESSION_PASS = "helpdesk.pass"  # noqa: S105 (a session key, not a secret)
#: How long after its POST a pass may still be shown (the redirect is followed at once).
PASS_SHOWN_WITHIN = 120
PASS_PURPOSE = "helpdesk.pass_shown"  # noqa: S105 (an encryption purpose label)


def _ticket_of(request: HttpRequest, user: User) -> str:
    tickets = request.session.get(SESSION_TICKETS) or {}
    return str(tickets.get(str(user.pk), "")) if isinstance(tickets, dict) else ""


def _remember_ticket(request: HttpRequest, user: User, ticket: str) -> None:
    tickets = request.session.get(SESSION_TICKETS)
    tickets = dict(tickets) if isinstance(tickets, dict) else {}
    tickets[str(user.pk)] = ticket
    request.session[SESSION_TICKETS] = tickets


def _ticket_form(request: HttpRequest, user: User, cls: type[forms.Form], **kwargs: Any) -> Any:
    """An unbound form for ``user``, its ticket filled in with the one remembered."""
    return cls(initial={"ticket": _ticket_of(request, user)}, **kwargs)


def _page(
    request: HttpRequest,
    user: User,
    *,
    status: int = 200,
    bound: dict[str, forms.Form] | None = None,
    error: str = "",
) -> HttpResponse:
    """The person page; ``bound`` are forms posted back with their errors."""
    page_forms = {
        name: _ticket_form(request, user, cls, prefix=name) for name, cls in PAGE_FORMS.items()
    }
    page_forms.update(bound or {})
    agent = request.user
    try:
        service.check_may_act(agent, user)
        read_only = ""
    except VahvaError as exc:
        read_only = str(exc.message)
    context = {
        "person": user,
        "overview": service.overview(user, now=clock.now()),
        "forms": page_forms,
        "read_only": read_only,
        "error": error,
        "method_sections": method_actions.sections(user, now=clock.now()),
    }
    return render(request, "helpdesk/person.html", context, status=status)


def _failed(
    request: HttpRequest, user: User, name: str, form: forms.Form, exc: VahvaError | None = None
) -> HttpResponse:
    """The person page again, with the posted form and what was wrong: the form's own
    errors, or the refusal ``exc`` of the room that was asked."""
    if exc is not None and exc.status == 403:
        return _error(request, exc)
    if exc is None:
        error = _("Nothing was changed. Check the form marked below.")
    else:
        error = _("Nothing was changed: %(reason)s") % {"reason": exc.message}
    response = _page(
        request,
        user,
        status=exc.status if exc is not None else 400,
        bound={name: form},
        error=error,
    )
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _done(request: HttpRequest, user: User, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect(_person_url(user))


# --- finding people ------------------------------------------------------------------------


@require_GET
@never_cache
@helpdesk_required
def index(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    context: dict[str, Any] = {"form": form, "people": [], "more": False, "searched": False}
    if not form.is_bound:
        return render(request, "helpdesk/index.html", context)
    if not form.is_valid():
        return render(request, "helpdesk/index.html", context, status=400)
    people, more = service.search(form.cleaned_data["q"])
    context.update(people=people, more=more, searched=bool(form.cleaned_data["q"].strip()))
    return render(request, "helpdesk/index.html", context)


@person_view("GET")
def person(request: HttpRequest, user: User) -> HttpResponse:
    service.viewed(user, actor=request.user, request=request)
    return _page(request, user)


# --- verifying the caller ------------------------------------------------------------------


@person_view("POST")
def check(request: HttpRequest, user: User) -> HttpResponse:
    form = TicketForm(request.POST, prefix="check")
    if not form.is_valid():
        return _failed(request, user, "check", form)
    _remember_ticket(request, user, form.cleaned_data["ticket"])
    try:
        sent = service.check_caller(
            user,
            ticket=form.cleaned_data["ticket"],
            now=clock.now(),
            actor=request.user,
            request=request,
        )
    except VahvaError as exc:
        return _failed(request, user, "check", form, exc)
    return redirect(
        reverse("helpdesk:check_page", kwargs={"person_id": user.pk, "check_id": sent.id})
    )


def _check_of(user: User, check_id: object) -> authenticator.HelpdeskCheck:
    try:
        return authenticator.helpdesk_check_of(user, check_id, now=clock.now())
    except UnknownChallenge:
        raise UnknownItem() from None


@person_view("GET")
def check_page(request: HttpRequest, user: User, check_id: Any) -> HttpResponse:
    try:
        found = _check_of(user, check_id)
    except VahvaError as exc:
        return _error(request, exc)
    return render(
        request,
        "helpdesk/check.html",
        {
            "person": user,
            "check": found,
            # "Send another check" is for the same ticket, most likely.
            "form": TicketForm(prefix="check", initial={"ticket": found.ticket}),
        },
    )


@person_view("GET")
def check_status(request: HttpRequest, user: User, check_id: Any) -> JsonResponse:
    """For the check page to poll: "pending", or "done" (the page then reloads and says how)."""
    try:
        found = _check_of(user, check_id)
    except VahvaError as exc:
        return JsonResponse({"state": "gone", "message": str(exc.message)}, status=exc.status)
    return JsonResponse({"state": "pending" if found.pending else "done"})


# --- temporary access pass -----------------------------------------------------------------


@person_view("POST")
def issue_pass(request: HttpRequest, user: User) -> HttpResponse:
    form = PassForm(request.POST, prefix="pass")
    if not form.is_valid():
        return _failed(request, user, "pass", form)
    _remember_ticket(request, user, form.cleaned_data["ticket"])
    one_time = form.cleaned_data["use"] == ONE_TIME
    try:
        registered, code = service.issue_pass(
            user,
            ticket=form.cleaned_data["ticket"],
            lifetime=form.cleaned_data["lifetime"],
            one_time=one_time,
            now=clock.now(),
            actor=request.user,
            request=request,
        )
    except VahvaError as exc:
        return _failed(request, user, "pass", form, exc)
    # Post/redirect/get: a reload of the page that shows the pass must not issue another
    # one, silently replacing the pass just read to the caller. The pass waits for that one
    # page in the agent's session, encrypted, never in a URL or a log.
    request.session[SESSION_PASS] = {
        "person": user.pk,
        "method": registered.pk,
        "code": crypto.encrypt(code, purpose=PASS_PURPOSE),
        "at": clock.now().timestamp(),
    }
    return redirect(reverse("helpdesk:pass_shown", kwargs={"person_id": user.pk}))


def _pass_to_show(request: HttpRequest, user: User) -> str:
    """The pass issued just before for ``user``, once: it leaves the session as it is read."""
    waiting = request.session.pop(SESSION_PASS, None)
    if not isinstance(waiting, dict) or waiting.get("person") != user.pk:
        return ""
    if clock.now().timestamp() - float(waiting.get("at") or 0) > PASS_SHOWN_WITHIN:
        return ""
    active = service.active_pass(user, now=clock.now())
    # Replaced or revoked in between (another agent): that pass no longer works.
    if active is None or active.pk != waiting.get("method"):
        return ""
    try:
        return crypto.decrypt(str(waiting["code"]), purpose=PASS_PURPOSE)
    except (crypto.DecryptionError, KeyError):
        return ""


@person_view("GET")
def pass_shown(request: HttpRequest, user: User) -> HttpResponse:
    """The pass, the first time; after that (a reload, Back) only what it is and an explicit
    way to issue another."""
    code = _pass_to_show(request, user)
    active = service.active_pass(user, now=clock.now())
    return render(
        request,
        "helpdesk/pass.html",
        {
            "person": user,
            "code": code,
            "registered": active,
            "one_time": bool(active and active.data.get("one_time")),
            "form": _ticket_form(request, user, PassForm, prefix="pass"),
        },
    )


def _confirm(
    request: HttpRequest,
    user: User,
    *,
    title: str,
    what: str,
    button: str,
    warning: str = "",
    form: TicketForm | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "helpdesk/confirm.html",
        {
            "person": user,
            "title": title,
            "what": what,
            "button": button,
            "warning": warning,
            "form": form or _ticket_form(request, user, TicketForm),
        },
        status=status,
    )


def _confirmed_action(
    request: HttpRequest,
    user: User,
    *,
    title: str,
    what: str,
    button: str,
    act: Callable[[str], str],
    warning: str = "",
) -> HttpResponse:
    """GET: a page that says what will happen and asks for the ticket; POST: do it."""
    show = partial(_confirm, request, user, title=title, what=what, button=button, warning=warning)
    if request.method == "GET":
        return show()
    form = TicketForm(request.POST)
    if not form.is_valid():
        return show(form=form, status=400)
    _remember_ticket(request, user, form.cleaned_data["ticket"])
    try:
        message = act(form.cleaned_data["ticket"])
    except VahvaError as exc:
        if exc.status in (403, 404):
            return _error(request, exc)
        form.add_error(None, str(exc.message))
        return show(form=form, status=exc.status)
    return _done(request, user, message)


def _last_method_warning(user: User, method_ids: list[int]) -> str:
    if not service.leaves_no_method(user, method_ids):
        return ""
    return _(
        "This is the person's last sign-in method: without it they sign in with the password "
        "alone until they register a new one. If they lost their phone, give them a temporary "
        "access pass first, and remove the old phone once they have registered a new one."
    )


@person_view("GET", "POST")
def revoke_pass(request: HttpRequest, user: User) -> HttpResponse:
    def act(ticket: str) -> str:
        if service.revoke_pass(user, ticket=ticket, actor=request.user, request=request):
            return _("The temporary access pass was revoked.")
        return _("There was no working temporary access pass to revoke.")

    return _confirmed_action(
        request,
        user,
        title=_("Revoke the temporary access pass"),
        what=_("The pass stops working at once, even if nobody has used it yet."),
        button=_("Revoke pass"),
        act=act,
    )


# --- methods and devices -------------------------------------------------------------------


@person_view("GET", "POST")
def remove_method(request: HttpRequest, user: User, method_id: int) -> HttpResponse:
    try:
        row = service.method_of(user, method_id)
    except VahvaError as exc:
        return _error(request, exc)

    def act(ticket: str) -> str:
        label = service.remove_method(
            user, method_id, ticket=ticket, actor=request.user, request=request
        )
        return _("%(method)s was removed.") % {"method": label}

    return _confirmed_action(
        request,
        user,
        title=_("Remove a sign-in method"),
        what=_("%(method)s can no longer be used to sign in.") % {"method": row.label},
        button=_("Remove method"),
        act=act,
        warning=_last_method_warning(user, [row.registered.pk]),
    )


@person_view("GET", "POST")
def remove_device(request: HttpRequest, user: User, device_id: Any) -> HttpResponse:
    try:
        device = service.device_of(user, device_id)
    except VahvaError as exc:
        return _error(request, exc)

    def act(ticket: str) -> str:
        name = service.remove_device(
            user, device.pk, ticket=ticket, now=clock.now(), actor=request.user, request=request
        )
        return _("The device “%(device)s” was removed.") % {"device": name}

    return _confirmed_action(
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
        warning=_last_method_warning(user, [m.pk for m in service.methods_of_device(user, device)]),
    )


# --- exemptions ----------------------------------------------------------------------------


@person_view("POST")
def grant_exemption(request: HttpRequest, user: User) -> HttpResponse:
    form = ExemptionForm(request.POST, prefix="exemption")
    if not form.is_valid():
        return _failed(request, user, "exemption", form)
    _remember_ticket(request, user, form.cleaned_data["ticket"])
    try:
        exemption = service.grant_exemption(
            user,
            ticket=form.cleaned_data["ticket"],
            reason=form.cleaned_data["reason"],
            expires_at=form.expires_at(),
            now=clock.now(),
            actor=request.user,
            request=request,
        )
    except VahvaError as exc:
        return _failed(request, user, "exemption", form, exc)
    return _done(
        request,
        user,
        _("The exemption was granted until %(time)s.") % {"time": _local(exemption.expires_at)},
    )


@person_view("GET", "POST")
def revoke_exemption(request: HttpRequest, user: User, exemption_id: int) -> HttpResponse:
    try:
        exemption = service.exemption_of(user, exemption_id)
    except VahvaError as exc:
        return _error(request, exc)

    def act(ticket: str) -> str:
        service.revoke_exemption(
            user, exemption.pk, ticket=ticket, now=clock.now(), actor=request.user, request=request
        )
        return _("The exemption was revoked.")

    return _confirmed_action(
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
    form = TicketForm(request.POST, prefix="signout")
    if not form.is_valid():
        return _failed(request, user, "signout", form)
    _remember_ticket(request, user, form.cleaned_data["ticket"])
    try:
        service.sign_out_everywhere(
            user, ticket=form.cleaned_data["ticket"], actor=request.user, request=request
        )
    except VahvaError as exc:
        return _failed(request, user, "signout", form, exc)
    return _done(request, user, _("The person was signed out everywhere."))


@person_view("POST")
def unlock(request: HttpRequest, user: User) -> HttpResponse:
    form = TicketForm(request.POST, prefix="unlock")
    if not form.is_valid():
        return _failed(request, user, "unlock", form)
    _remember_ticket(request, user, form.cleaned_data["ticket"])
    try:
        service.clear_lockout(
            user,
            ticket=form.cleaned_data["ticket"],
            now=clock.now(),
            actor=request.user,
            request=request,
        )
    except VahvaError as exc:
        return _failed(request, user, "unlock", form, exc)
    return _done(request, user, _("The wrong codes were forgotten: the person can try again."))


# --- what the sign-in methods add ------------------------------------------------------------


@person_view("POST")
def method_action(request: HttpRequest, user: User, kind: str, action: str) -> HttpResponse:
    """An action a method offers on the person page (a hardware token's resync...)."""
    done, refused = method_actions.act(request, user, kind, action)
    if refused is None:
        return method_actions.done(request, user, done)
    if isinstance(refused, VahvaError):
        if refused.status in (403, 404):
            return _error(request, refused)
        return _page(
            request,
            user,
            status=refused.status,
            error=_("Nothing was changed: %(reason)s") % {"reason": refused.message},
        )
    return _page(request, user, status=400, error=" ".join(refused.errors.get("ticket", [])))
