"""What every helpdesk page shares: the person looked up from the URL, the page about them
with its forms, the ticket the agent's session remembers, refusals and confirmations."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, wraps
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from vahva import clock
from vahva.accounts.models import User
from vahva.errors import RateLimited, VahvaError

from . import callers, method_actions, passes, service
from .access import check_may_act, helpdesk_required
from .forms import CallerForm, ExemptionForm, PassForm, ProcedureForm, TicketForm

#: The person page's forms, each with its own prefix (so their fields' ids do not clash).
PAGE_FORMS: dict[str, type[forms.Form]] = {
    "check": TicketForm,
    "caller": CallerForm,
    "procedure": ProcedureForm,
    "pass": PassForm,
    "exemption": ExemptionForm,
    "signout": TicketForm,
    "unlock": TicketForm,
}

Handler = Callable[..., HttpResponse]


def error_page(request: HttpRequest, exc: VahvaError, *, title: str = "") -> HttpResponse:
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
            return error_page(request, exc, title=_("Person not found"))
        return view(request, user, *args, **kwargs)

    return wrapper


def person_view(*methods: str) -> Callable[[Handler], Handler]:
    """A page about one person: these HTTP methods only, never cached, for helpdesk staff,
    the person looked up from the URL."""

    def decorate(view: Handler) -> Handler:
        checked = helpdesk_required(for_person(view))
        return cast(Handler, require_http_methods(list(methods))(never_cache(checked)))

    return decorate


def local_time(moment: Any) -> str:
    return dateformat.format(timezone.localtime(moment), "j.n.Y H:i")


def person_url(user: User) -> str:
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


def ticket_of(request: HttpRequest, user: User) -> str:
    tickets = request.session.get(SESSION_TICKETS) or {}
    return str(tickets.get(str(user.pk), "")) if isinstance(tickets, dict) else ""


def remember_ticket(request: HttpRequest, user: User, ticket: str) -> None:
    tickets = request.session.get(SESSION_TICKETS)
    tickets = dict(tickets) if isinstance(tickets, dict) else {}
    tickets[str(user.pk)] = ticket
    request.session[SESSION_TICKETS] = tickets


def ticket_form(request: HttpRequest, user: User, cls: type[forms.Form], **kwargs: Any) -> Any:
    """An unbound form for ``user``, its ticket filled in with the one remembered."""
    return cls(initial={"ticket": ticket_of(request, user)}, **kwargs)


def person_page(
    request: HttpRequest,
    user: User,
    *,
    status: int = 200,
    bound: dict[str, forms.Form] | None = None,
    error: str = "",
) -> HttpResponse:
    """The person page; ``bound`` are forms posted back with their errors."""
    page_forms = {
        name: ticket_form(request, user, cls, prefix=name) for name, cls in PAGE_FORMS.items()
    }
    page_forms.update(bound or {})
    agent = request.user
    try:
        check_may_act(agent, user)
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
        "passes_offered": passes.method() is not None,
        "caller_ways": callers.ways(user, now=clock.now()),
        "caller_procedure": callers.procedure_text(),
        "caller_outcomes": callers.outcomes(user),
    }
    return render(request, "helpdesk/person.html", context, status=status)


def failed_page(
    request: HttpRequest, user: User, name: str, form: forms.Form, exc: VahvaError | None = None
) -> HttpResponse:
    """The person page again, with the posted form and what was wrong: the form's own
    errors, or the refusal ``exc`` of the room that was asked."""
    if exc is not None and exc.status == 403:
        return error_page(request, exc)
    if exc is None:
        error = _("Nothing was changed. Check the form marked below.")
    else:
        error = _("Nothing was changed: %(reason)s") % {"reason": exc.message}
    response = person_page(
        request,
        user,
        status=exc.status if exc is not None else 400,
        bound={name: form},
        error=error,
    )
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def ticket_action(
    request: HttpRequest,
    user: User,
    name: str,
    cls: type[TicketForm],
    act: Callable[[Any], HttpResponse],
) -> HttpResponse:
    """A form of the person page posted: bound (``name`` is its prefix), its ticket
    remembered, ``act(form)`` done; or the page again with the form's errors or the refusal."""
    form = cls(request.POST, prefix=name)
    if not form.is_valid():
        return failed_page(request, user, name, form)
    remember_ticket(request, user, form.cleaned_data["ticket"])
    try:
        return act(form)
    except VahvaError as exc:
        return failed_page(request, user, name, form, exc)


def finished(request: HttpRequest, user: User, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect(person_url(user))


def confirm_page(
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
            "form": form or ticket_form(request, user, TicketForm),
        },
        status=status,
    )


def confirmed_action(
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
    show = partial(
        confirm_page, request, user, title=title, what=what, button=button, warning=warning
    )
    if request.method == "GET":
        return show()
    form = TicketForm(request.POST)
    if not form.is_valid():
        return show(form=form, status=400)
    remember_ticket(request, user, form.cleaned_data["ticket"])
    try:
        message = act(form.cleaned_data["ticket"])
    except VahvaError as exc:
        if exc.status in (403, 404):
            return error_page(request, exc)
        form.add_error(None, str(exc.message))
        return show(form=form, status=exc.status)
    return finished(request, user, message)


def last_method_warning(user: User, method_ids: list[int]) -> str:
    if not service.leaves_no_method(user, method_ids):
        return ""
    return _(
        "This is the person's last sign-in method: without it they sign in with the password "
        "alone until they register a new one. If they lost their phone, give them a temporary "
        "access pass first, and remove the old phone once they have registered a new one."
    )
