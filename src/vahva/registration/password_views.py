"""The password pages: parse the form, call :mod:`.passwords`, render."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from vahva import clock
from vahva.accounts.models import signed_in
from vahva.errors import RateLimited, VahvaError
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.base import Answer
from vahva.signin.forms import CodeForm

from . import passwords
from .forms import ChangePasswordForm, ForgotPasswordForm, NewPasswordForm
from .views import reauth


def _failed(
    request: HttpRequest, template: str, context: dict[str, Any], exc: VahvaError
) -> HttpResponse:
    response = render(request, template, {**context, "error": exc.message}, status=exc.status)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _invalid(form: Any, exc: ValidationError) -> None:
    form.add_error("new", exc)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def change(request: HttpRequest) -> HttpResponse:
    elsewhere = passwords.change_url_elsewhere(request.user)
    if elsewhere is not None:
        return render(request, "registration/password_elsewhere.html", {"url": elsewhere})
    if not methods.has_methods(signed_in(request)):
        return render(request, "registration/password_needs_method.html", status=409)
    if not passwords.confirmed_with_second_factor(request):
        # Changing the password is a sensitive change: a second factor first, then back here.
        return reauth(request)
    form = ChangePasswordForm(request.POST if request.method == "POST" else None)
    context = {"form": form}
    if request.method == "GET" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        return render(request, "registration/password_change.html", context, status=status)
    try:
        passwords.change(
            request, current=form.cleaned_data["current"], new=form.cleaned_data["new"]
        )
    except ValidationError as exc:
        _invalid(form, exc)
        return render(request, "registration/password_change.html", context, status=400)
    except VahvaError as exc:
        return _failed(request, "registration/password_change.html", context, exc)
    return redirect("registration:password_changed")


@login_required
@require_http_methods(["GET"])
def changed(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/password_changed.html")


@login_required
@require_POST
def sign_out_others(request: HttpRequest) -> HttpResponse:
    passwords.sign_out_others(request)
    return render(request, "registration/password_changed.html", {"signed_out": True})


@never_cache
@require_http_methods(["GET", "POST"])
def forgot(request: HttpRequest) -> HttpResponse:
    form = ForgotPasswordForm(request.POST if request.method == "POST" else None)
    if request.method == "GET" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        return render(request, "registration/password_forgot.html", {"form": form}, status=status)
    try:
        passwords.request_reset(request, email=form.cleaned_data["email"], now=clock.now())
    except RateLimited as exc:
        return _failed(request, "registration/password_forgot.html", {"form": form}, exc)
    # The same page whether the address has an account or not (no enumeration).
    return render(request, "registration/password_forgot_sent.html")


@never_cache
@require_http_methods(["GET"])
def reset_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        passwords.open_link(request, token, now=clock.now())
    except VahvaError as exc:
        return _failed(
            request, "registration/password_forgot.html", {"form": ForgotPasswordForm()}, exc
        )
    return redirect("registration:password_reset")


@never_cache
@require_http_methods(["GET", "POST"])
def reset(request: HttpRequest) -> HttpResponse:
    now = clock.now()
    try:
        row = passwords.pending(request, now=now)
    except VahvaError as exc:
        return _failed(
            request, "registration/password_forgot.html", {"form": ForgotPasswordForm()}, exc
        )
    elsewhere = passwords.change_url_elsewhere(row.user)
    if elsewhere is not None:
        return render(request, "registration/password_elsewhere.html", {"url": elsewhere})
    if request.session.get(passwords.SESSION_RESET_CONFIRMED) == row.pk:
        return _new_password(request, row, now=now)
    registered = passwords.second_factor(row.user)
    if registered is None:
        return render(
            request, "registration/password_needs_method.html", {"reset": True}, status=409
        )
    method = registry.get(registered.kind)
    form = CodeForm(request.POST if request.method == "POST" else None)
    if method.answer is Answer.LETTERS:
        form.letters()
    context = {"form": form, "method": method}
    if request.method == "GET" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        return render(request, "registration/password_reset_code.html", context, status=status)
    try:
        passwords.confirm_second_factor(request, row, registered, form.cleaned_data["code"])
    except VahvaError as exc:
        return _failed(request, "registration/password_reset_code.html", context, exc)
    return redirect("registration:password_reset")


def _new_password(request: HttpRequest, row: Any, *, now: Any) -> HttpResponse:
    form = NewPasswordForm(request.POST if request.method == "POST" else None)
    context = {"form": form}
    if request.method == "GET" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        return render(request, "registration/password_reset_new.html", context, status=status)
    try:
        passwords.finish(request, row, new=form.cleaned_data["new"], now=now)
    except ValidationError as exc:
        _invalid(form, exc)
        return render(request, "registration/password_reset_new.html", context, status=400)
    except VahvaError as exc:
        return _failed(request, "registration/password_reset_new.html", context, exc)
    return render(request, "registration/password_reset_finished.html")
