"""The sign-in log and the adoption page, for helpdesk staff and admins."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from vahva import clock
from vahva.audit.log import record
from vahva.helpdesk.access import helpdesk_required

from . import queries
from .export import csv_response
from .forms import SignInFilterForm


class _BadPage(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _query(form: SignInFilterForm) -> str:
    """The valid form's filters as a query string (for the pages' links and the export)."""
    values = {
        name: value.isoformat() if hasattr(value, "isoformat") else value
        for name, value in form.cleaned_data.items()
        if value not in ("", None)
    }
    return urlencode(values)


def _page(request: HttpRequest, paginator: Paginator[Any]) -> Page[Any]:
    raw = request.GET.get("page", "1").strip() or "1"
    digits = raw.lstrip("0")
    if not raw.isascii() or not raw.isdigit() or not digits:
        raise _BadPage(_("The page number must be a whole number, for example 2."), 400)
    # (Python refuses int() of thousands of digits: such a page is simply past the end.)
    number = int(digits) if len(digits) <= 9 else paginator.num_pages + 1
    if number > paginator.num_pages:
        raise _BadPage(
            _("There is no page %(page)s: the results have %(pages)d pages.")
            % {"page": digits[:12], "pages": paginator.num_pages},
            404,
        )
    return paginator.page(number)


def _log_page(
    request: HttpRequest,
    form: SignInFilterForm,
    *,
    error: str = "",
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = {"form": form, "rows": [], "page": None, "query": "", "error": error, **extra}
    return render(request, "insights/signins.html", context, status=status)


def _bad_filters(request: HttpRequest, form: SignInFilterForm) -> HttpResponse:
    return _log_page(request, form, error=_("Check the filters marked below."), status=400)


@require_http_methods(["GET"])
@never_cache
@helpdesk_required
def signins(request: HttpRequest) -> HttpResponse:
    form = SignInFilterForm(request.GET)
    if not form.is_valid():
        return _bad_filters(request, form)
    paginator = Paginator(queries.signins(form.filters()), queries.PAGE_SIZE)
    query = _query(form)
    try:
        page = _page(request, paginator)
    except _BadPage as exc:
        return _log_page(request, form, error=exc.message, status=exc.status, query=query)
    rows = [queries.describe(event) for event in page.object_list]
    return _log_page(request, form, page=page, rows=rows, query=query)


@require_http_methods(["GET"])
@never_cache
@helpdesk_required
def signins_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    form = SignInFilterForm(request.GET)
    if not form.is_valid():
        return _bad_filters(request, form)
    filters = form.filters()
    # Who took a copy of people's sign-in history, and which part of it.
    record(
        "insights.export",
        actor=request.user,
        request=request,
        filters={name: str(value) for name, value in form.cleaned_data.items() if value},
    )
    stamp = clock.now().strftime("%Y%m%d-%H%M%S")
    return csv_response(
        f"sign-ins-{stamp}.csv",
        queries.EXPORT_HEADER,
        queries.export_rows(queries.signins(filters)),
    )


@require_http_methods(["GET"])
@never_cache
@helpdesk_required
def adoption(request: HttpRequest) -> HttpResponse:
    figures = queries.adoption(now=clock.now())
    return render(
        request,
        "insights/adoption.html",
        {"adoption": figures, "data": figures.chart_data(), "days": queries.ADOPTION_DAYS},
    )
