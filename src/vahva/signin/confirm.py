"""Confirm it's you: re-authentication before a sensitive change (adding or removing a method,
the default method, a phone number).

A person with methods proves it with one of them, never with the password alone (a stolen
password and a hijacked session must not be enough to plant an attacker's authenticator): a
typed code or a security key on this page, or any method — a push with number matching, a
text, a call — through the sign-in's second step (:func:`reauth.begin_confirmation`). A
person without methods yet confirms with the password.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from vahva import clock
from vahva.accounts.models import User
from vahva.errors import VahvaError
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.base import ON_THE_PAGE, Answer, Role
from vahva.methods.challenges import Ceremony
from vahva.methods.models import RegisteredMethod

from . import reauth
from .forms import CodeForm, ConfirmPasswordForm, CredentialForm
from .views import _error_response, answer_form, safe_next


def _on_this_page(user: User) -> RegisteredMethod | None:
    """The method confirmed on this page: a typed code or a security key (a recovery code is
    not spent on confirming); None when only a push, a text or a call would do."""
    return next(
        (
            m
            for m in methods.registered_for(user)
            if registry.get(m.kind).answer in ON_THE_PAGE
            and registry.get(m.kind).role is not Role.FALLBACK
        ),
        None,
    )


@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest) -> HttpResponse:
    """Prove it is still you, before a sensitive change (removing a method...)."""
    if not request.user.is_authenticated:
        here = quote(request.get_full_path(), safe="/")
        return redirect(f"{reverse('signin:password')}?next={here}")
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    has_methods = methods.has_methods(request.user)
    registered = _on_this_page(request.user) if has_methods else None
    if request.method == "POST" and has_methods and "password" in request.POST:
        # MFA bypass: the password alone is not a confirmation for a person with methods.
        return render(
            request,
            "signin/confirm.html",
            {
                "next": next_url,
                "error": _("Confirm with one of your sign-in methods."),
                "form": ConfirmPasswordForm(),
            },
            status=400,
        )
    if has_methods and (registered is None or request.GET.get("other")):
        # A push, a text or a call (or the person's choice of any method): the second step.
        reauth.begin_confirmation(request, next_url=next_url)
        target = reverse("signin:other" if request.GET.get("other") else "signin:verify")
        return redirect(target)
    method = registry.get(registered.kind) if registered else None
    context: dict[str, Any] = {
        "next": next_url,
        "method": method,
        "registered": registered,
        "credential": method is not None and method.answer is Answer.CREDENTIAL,
    }
    data = request.POST if request.method == "POST" else None
    form: CodeForm | CredentialForm | ConfirmPasswordForm
    form = answer_form(method, data) if method is not None else ConfirmPasswordForm(data)
    context["form"] = form
    if request.method == "GET":
        if method is not None and registered is not None and context["credential"]:
            # The security key's challenge for confirming (no sign-in attempt: its own scope).
            match method.begin(registered, now=clock.now()):
                case Ceremony() as ceremony:
                    context["ceremony"] = ceremony
                case _:
                    pass
        return render(request, "signin/confirm.html", context)
    if not form.is_valid():
        return render(request, "signin/confirm.html", context, status=400)
    try:
        if registered is not None:
            reauth.confirm(request, registered=registered, response=form.cleaned_data["code"])
        else:
            reauth.confirm(request, password=form.cleaned_data["password"])
    except VahvaError as exc:
        return _error_response(request, "signin/confirm.html", context, exc)
    return redirect(next_url or reverse("registration:security_info"))
