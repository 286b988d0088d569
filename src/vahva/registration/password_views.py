"""The password pages: parse the form, call :mod:`.passwords`, render."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
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

from . import failures, passwords
from .forms import ChangePasswordForm, ForgotPasswordForm, NewPasswordForm
from .models import PasswordReset
from .views import reauth

#: Set by a finished step and read by the page the browser is sent to (post/redirect/get).
SESSION_SIGNED_OUT_OTHERS = "vahva_signed_out_others"
SESSION_RESET_FINISHED = "vahva_reset_finished"


def _failed(
    request: HttpRequest, template: str, context: dict[str, Any], exc: VahvaError
) -> HttpResponse:
    """A reset link that does not work (a GET: nothing to post again)."""
    response = render(request, template, {**context, "error": exc.message}, status=exc.status)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _again(
    request: HttpRequest,
    *,
    form: forms.Form | None = None,
    exc: VahvaError | ValidationError | None = None,
    keep: tuple[str, ...] = (),
) -> HttpResponse:
    """Post/redirect/get: the failure is shown by the page's GET. Passwords and codes typed
    are never kept (failures.SECRET_FIELDS): the person types them again."""
    if isinstance(exc, ValidationError):
        assert form is not None  # Django's password validators answer about a form's field
        form.add_error("new", exc)
        exc = None
    return failures.redirect_failed(
        request,
        status=exc.status if exc is not None else 400,
        error=exc.message if exc is not None else "",
        form=form,
        keep=keep,
        retry_after=exc.retry_after if isinstance(exc, RateLimited) else None,
    )


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
    if request.method == "GET":
        failure = failures.recalled(request)
        context = {"form": failures.form_again(ChangePasswordForm, failure)}
        return failures.render_page(request, "registration/password_change.html", context, failure)
    form = ChangePasswordForm(request.POST)
    if not form.is_valid():
        return _again(request, form=form)
    try:
        passwords.change(
            request, current=form.cleaned_data["current"], new=form.cleaned_data["new"]
        )
    except (ValidationError, VahvaError) as exc:
        return _again(request, form=form, exc=exc)
    return redirect("registration:password_changed")


@login_required
@require_http_methods(["GET"])
def changed(request: HttpRequest) -> HttpResponse:
    signed_out = bool(request.session.pop(SESSION_SIGNED_OUT_OTHERS, False))
    return render(request, "registration/password_changed.html", {"signed_out": signed_out})


@login_required
@require_POST
def sign_out_others(request: HttpRequest) -> HttpResponse:
    passwords.sign_out_others(request)
    # Post/redirect/get: a reload shows the page again instead of posting the form again.
    request.session[SESSION_SIGNED_OUT_OTHERS] = True
    return redirect("registration:password_changed")


@never_cache
@require_http_methods(["GET", "POST"])
def forgot(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        failure = failures.recalled(request)
        context = {"form": failures.form_again(ForgotPasswordForm, failure)}
        return failures.render_page(request, "registration/password_forgot.html", context, failure)
    form = ForgotPasswordForm(request.POST)
    if not form.is_valid():
        return _again(request, form=form, keep=("email",))
    try:
        passwords.request_reset(request, email=form.cleaned_data["email"], now=clock.now())
    except RateLimited as exc:
        return _again(request, exc=exc, keep=("email",))
    # The same page whether the address has an account or not (no enumeration), reached by a
    # redirect: reloading it shows it again and sends no other mail.
    return redirect("registration:password_forgot_sent")


@never_cache
@require_http_methods(["GET"])
def forgot_sent(request: HttpRequest) -> HttpResponse:
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
    failure = failures.recalled(request) if request.method == "GET" else None
    form = (
        CodeForm(request.POST)
        if request.method == "POST"
        else failures.form_again(CodeForm, failure)
    )
    if method.answer is Answer.LETTERS:
        form.letters()
    context = {"form": form, "method": method}
    if request.method == "GET":
        template = "registration/password_reset_code.html"
        return failures.render_page(request, template, context, failure)
    if not form.is_valid():
        return _again(request, form=form)
    try:
        passwords.confirm_second_factor(request, row, registered, form.cleaned_data["code"])
    except VahvaError as exc:
        return _again(request, exc=exc)
    return redirect("registration:password_reset")


def _new_password(request: HttpRequest, row: PasswordReset, *, now: dt.datetime) -> HttpResponse:
    if request.method == "GET":
        failure = failures.recalled(request)
        context = {"form": failures.form_again(NewPasswordForm, failure)}
        template = "registration/password_reset_new.html"
        return failures.render_page(request, template, context, failure)
    form = NewPasswordForm(request.POST)
    if not form.is_valid():
        return _again(request, form=form)
    try:
        passwords.finish(request, row, new=form.cleaned_data["new"], now=now)
    except (ValidationError, VahvaError) as exc:
        return _again(request, form=form, exc=exc)
    request.session[SESSION_RESET_FINISHED] = True
    return redirect("registration:password_reset_finished")


@never_cache
@require_http_methods(["GET"])
def reset_finished(request: HttpRequest) -> HttpResponse:
    """Once after a reset (a reload shows it again while the session says so)."""
    if not request.session.get(SESSION_RESET_FINISHED):
        return redirect("signin:password")
    return render(request, "registration/password_reset_finished.html")
