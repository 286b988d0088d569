"""Post/redirect/get for the forms that can fail.

A POST that fails is not answered with a page: the browser would keep that POST in its
history, and *Back* or *Reload* would then ask "Confirm Form Resubmission" (and send a code
or a number again). Instead the failure is kept in the session under a one-time ticket and
the browser is sent back to the form's address with ``?failed=<ticket>``; the GET shows the
messages, the values typed that are not secret, and answers with the failure's status (a 4xx,
as before). Reloading that address shows the same failure once more; the form's own address
without the ticket shows the form fresh.

Never kept: a code, a password or anything not named in ``keep`` (the session is stored
server-side, but a secret has no business outliving its request).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.functional import Promise

SESSION_KEY = "vahva_form_failures"
PARAM = "failed"
#: Tickets kept per session: the newest few, for Back across a couple of failed forms.
KEEP = 5
#: Fields whose values are never kept, whatever a caller asks: a secret typed once must not
#: sit in the session for the next page (codes, passwords, a ceremony's answer).
SECRET_FIELDS = frozenset({"code", "current", "new", "again", "password", "response"})
#: The longest value kept of a field (a pasted novel is not worth a session row).
MAX_VALUE = 200

AnyForm = TypeVar("AnyForm", bound=forms.Form)


@dataclass(frozen=True)
class Failure:
    """What a failed POST showed, to be shown again by the GET it redirects to."""

    status: int
    error: str = ""
    field_errors: Mapping[str, list[str]] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)
    retry_after: int | None = None
    #: Which page the GET shows: "" for the form's own, or a name the view knows
    #: ("expired": the enrolment must start again).
    page: str = ""


def _kept(data: Mapping[str, Any], keep: Iterable[str]) -> dict[str, str]:
    wanted = set(keep)
    if wanted & SECRET_FIELDS:
        raise ValueError(f"secrets are never kept: {sorted(wanted & SECRET_FIELDS)}")
    return {name: str(data[name])[:MAX_VALUE] for name in wanted if data.get(name)}


def _with_ticket(target: str, ticket: str) -> str:
    parts = urlsplit(target)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != PARAM]
    query.append((PARAM, ticket))
    return f"{parts.path}?{urlencode(query)}"


def redirect_failed(
    request: HttpRequest,
    *,
    status: int,
    error: str | Promise = "",
    form: forms.Form | None = None,
    keep: Iterable[str] = (),
    retry_after: int | None = None,
    page: str = "",
    to: str | None = None,
) -> HttpResponseRedirect:
    """Keep the failure of this POST and redirect (303) to ``to`` (default: the same
    address) where :func:`recalled` finds it."""
    target = to or request.get_full_path()
    field_errors = (
        {name: [str(message) for message in errors] for name, errors in form.errors.items()}
        if form is not None
        else {}
    )
    ticket = secrets.token_urlsafe(9)
    stored: dict[str, Any] = dict(request.session.get(SESSION_KEY) or {})
    stored[ticket] = {
        "path": urlsplit(target).path,
        "status": status,
        "error": str(error),
        "field_errors": field_errors,
        "values": _kept(request.POST, keep),
        "retry_after": retry_after,
        "page": page,
    }
    # The newest few only: dicts keep insertion order.
    request.session[SESSION_KEY] = dict(list(stored.items())[-KEEP:])
    response = HttpResponseRedirect(_with_ticket(target, ticket))
    response.status_code = 303  # See Other: the browser follows with a GET
    return response


def recalled(request: HttpRequest) -> Failure | None:
    """The failure this GET was redirected to show, if its ticket is this session's and was
    made for this page."""
    ticket = request.GET.get(PARAM)
    if not ticket:
        return None
    found = (request.session.get(SESSION_KEY) or {}).get(ticket)
    if not isinstance(found, dict) or found.get("path") != request.path:
        return None
    return Failure(
        status=int(found.get("status") or 400),
        error=str(found.get("error") or ""),
        field_errors=dict(found.get("field_errors") or {}),
        values=dict(found.get("values") or {}),
        retry_after=found.get("retry_after"),
        page=str(found.get("page") or ""),
    )


def form_again(make: Callable[[Any], AnyForm], failure: Failure | None) -> AnyForm:
    """``make(None)``: a fresh form; or the failed one again, ``make(values kept)`` with the
    messages it showed (``make`` is a form class, or a function choosing one)."""
    if failure is None or not (failure.values or failure.field_errors):
        return make(None)
    form = make(dict(failure.values))
    # The messages shown the first time, not a new validation of what was kept (the
    # secret fields are empty now and would say "Enter the code." instead).
    errors = form.errors
    errors.clear()
    errors.update(
        {name: form.error_class(messages) for name, messages in failure.field_errors.items()}
    )
    return form


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    failure: Failure | None,
) -> HttpResponse:
    """Render the form's page, with the failure's message and status when there is one."""
    if failure is None:
        return render(request, template, context)
    context = {**context, "error": failure.error or context.get("error"), "posted": failure.values}
    response = render(request, template, context, status=failure.status)
    if failure.retry_after is not None:
        response["Retry-After"] = str(failure.retry_after)
    return response
