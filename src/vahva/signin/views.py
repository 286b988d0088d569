"""Sign-in pages: parse the form, call the engine, render the outcome."""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from vahva import clock
from vahva.audit.log import record
from vahva.conf import settings
from vahva.errors import AlreadyCompleted, MalformedInput, RateLimited, VahvaError
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.base import ANSWERED_ELSEWHERE, Answer, AttemptRef, Method, Role
from vahva.methods.challenges import (
    Approve,
    Ceremony,
    Challenge,
    LimitReached,
    MatchNumber,
    Paused,
    TypeCode,
)
from vahva.policy import trusted

from . import (
    attempts,
    choices,
    engine,
    known_browser,
    passkeys,
    remembered,
    requirements,
    second_factor,
)
from .forms import CodeForm, CredentialForm, PasswordForm
from .models import SignInAttempt


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """``candidate`` if it points into this site, else "" (open redirects)."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def _error_response(
    request: HttpRequest, template: str, context: dict[str, Any], exc: VahvaError
) -> HttpResponse:
    response = render(request, template, {**context, "error": exc.message}, status=exc.status)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _after_sign_in(
    request: HttpRequest, next_url: str, user_pk: object, needs_registration: bool = False
) -> HttpResponse:
    if needs_registration:
        # The registration campaign decides: the wizard, or straight on after "Not now".
        target = reverse("registration:start")
        if next_url:
            # Encoded: a service's return address has a query of its own (&client_id=...).
            target += "?next=" + quote(next_url, safe="/")
    else:
        target = next_url or reverse("registration:security_info")
    response = HttpResponseRedirect(target)
    known_browser.remember(request, response, user_pk)
    return response


@require_http_methods(["GET", "POST"])
def password(request: HttpRequest) -> HttpResponse:
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    waiting = requirements.pending(request, next_url)
    requirement = waiting.requirement if waiting else None
    fresh = requirement is not None and requirement.fresh
    service = requirement.service if requirement else ""
    if request.method == "GET":
        if request.user.is_authenticated and not fresh:
            return redirect(next_url or reverse("registration:security_info"))
        initial = {"next": next_url}
        if fresh and request.user.is_authenticated:
            initial["email"] = getattr(request.user, "email", "")
        return render(
            request,
            "signin/password.html",
            {
                "form": PasswordForm(initial=initial),
                "service": service,
                "passkeys": passkeys.offered(),
            },
        )
    form = PasswordForm(request.POST)
    context: dict[str, Any] = {
        "form": form,
        "service": service,
        "passkeys": passkeys.offered(),
    }
    if not form.is_valid():
        return render(request, "signin/password.html", context, status=400)
    try:
        user = engine.check_password(
            request, form.cleaned_data["email"], form.cleaned_data["password"]
        )
    except VahvaError as exc:
        return _error_response(request, "signin/password.html", context, exc)
    result = engine.begin(request, user, next_url=next_url, requirement=requirement)
    if result.second_step:
        return redirect("signin:verify")
    return _after_sign_in(request, next_url, user.pk, result.decision.needs_registration)


def _finished_elsewhere(request: HttpRequest, exc: VahvaError) -> HttpResponse:
    """A second tab or a double submit after the attempt was completed: carry on signed in."""
    if isinstance(exc, AlreadyCompleted) or request.user.is_authenticated:
        return redirect("registration:security_info")
    return _error_response(request, "signin/expired.html", {}, exc)


def answer_form(method: Method, data: Any = None) -> CodeForm | CredentialForm:
    """The form a method's answer comes in: the browser's WebAuthn JSON, or a typed code."""
    match method.answer:
        case Answer.CREDENTIAL:
            return CredentialForm(data)
        case Answer.LETTERS:
            # A temporary access pass or a recovery code has letters: no number pad.
            return CodeForm(data).letters()
        case _:
            return CodeForm(data)


def _ways_now(
    request: HttpRequest, attempt: SignInAttempt, method: Method, challenge: Challenge
) -> list[choices.Choice]:
    """What the page offers once the asked method cannot be used: after a report, every way
    but this method; with the text limit reached, no text or call either."""
    match challenge:
        case LimitReached():
            return choices.ways(request, attempt, leave_out=lambda c: bool(c.method.send_channel))
        case MatchNumber() | Approve():
            return choices.ways(request, attempt, leave_out=lambda c: c.method.kind == method.kind)
        case _:
            return []


def _shown(
    request: HttpRequest, method: Method, challenge: Challenge, context: dict[str, Any]
) -> HttpResponse:
    """The page for what the person must do now: the method's own page, with the challenge
    under the name its part of the page reads, or the limit's page (no field for a code that
    never came)."""
    template = f"methods/{method.kind}/verify.html"
    match challenge:
        case LimitReached(until=until):
            response = render(request, "signin/limit_reached.html", {**context, "limit": challenge})
            response.status_code = 429
            response["Retry-After"] = str(max(1, int((until - clock.now()).total_seconds())))
            return response
        case Paused():
            context["paused"] = challenge
        case MatchNumber() | Approve():
            # The page waits: it listens for the answer (verify_events, verify_status).
            context["waiting"] = challenge
        case Ceremony():
            context["ceremony"] = challenge
        case TypeCode():
            context["typed"] = challenge
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    try:
        attempt = engine.current(request)
    except VahvaError as exc:
        return _finished_elsewhere(request, exc)
    try:
        registered = engine.choose_method(
            request, attempt, request.GET.get("method"), answer=request.method == "POST"
        )
    except (MalformedInput, attempts.NotPhishingResistant) as exc:
        # A method id that is not one of this person's, or a code where the service accepts
        # only a security key: offer the methods that can be used instead.
        return _error_response(request, "signin/other.html", _other_context(request, attempt), exc)
    try:
        # "Call me" for a number registered for texts (and the other way round).
        method = choices.answering(registered, request.GET.get("by", ""))
    except MalformedInput as exc:
        return _error_response(request, "signin/other.html", _other_context(request, attempt), exc)

    @functools.cache  # once per page, however many times the template asks
    def has_others() -> bool:
        return bool(
            choices.ways(
                request,
                attempt,
                leave_out=lambda c: (
                    c.registered.pk == registered.pk and c.method.kind == method.kind
                ),
            )
        )

    context: dict[str, Any] = {
        "attempt": attempt,
        "registered": registered,
        "method": method,
        "by": "" if method.kind == registered.kind else method.kind,
        # Called by the template, so only when a page is shown (a right code shows none).
        "has_others": has_others,
        "form": answer_form(method),
        # "Don't ask again on this device": after a real second factor, not a helpdesk pass
        # or a recovery code.
        "remember_days": settings.REMEMBER_DEVICE_DAYS
        if remembered.offered() and method.role is Role.METHOD
        else 0,
    }
    if request.method == "GET":
        second_factor.prompting(attempt, method)
        try:
            challenge = method.begin(
                registered,
                now=clock.now(),
                attempt=attempt_ref(request, attempt, resend=bool(request.GET.get("resend"))),
            )
        except VahvaError as exc:
            return _error_response(request, f"methods/{method.kind}/verify.html", context, exc)
        context["choices"] = _ways_now(request, attempt, method, challenge)
        return _shown(request, method, challenge, context)
    if method.answer in ANSWERED_ELSEWHERE and not request.POST.get("code"):
        # Approved elsewhere: the response is this session's own attempt, never browser input,
        # so an approval completes only the attempt it was given for.
        response = str(attempt.pk)
    else:
        form = answer_form(method, request.POST)
        context["form"] = form
        if not form.is_valid():
            return render(request, f"methods/{method.kind}/verify.html", context, status=400)
        response = form.cleaned_data["code"]
    try:
        engine.verify(request, attempt, registered, response, kind=method.kind)
    except AlreadyCompleted:
        return redirect("registration:security_info")
    except attempts.NotPhishingResistant as exc:
        return _error_response(request, "signin/other.html", _other_context(request, attempt), exc)
    except VahvaError as exc:
        return _error_response(request, f"methods/{method.kind}/verify.html", context, exc)
    said = method.used_message(registered)
    if said:
        messages.warning(request, said)
    # Signed in with the helpdesk's pass and no method left: on to register a new one. A
    # method of the person's own that has just answered is one (no need to ask the database).
    owns_one = registry.get(registered.kind).role is Role.METHOD
    done = _after_sign_in(
        request,
        attempt.next_url,
        attempt.user_id,
        not owns_one and not methods.has_methods(attempt.user),
    )
    if context["remember_days"] and request.POST.get("remember") == "on":
        remembered.remember(request, done, attempt.user, now=clock.now())
    return done


def attempt_ref(
    request: HttpRequest, attempt: SignInAttempt, *, resend: bool = False
) -> AttemptRef:
    waiting = requirements.pending(request, attempt.next_url)
    return AttemptRef(
        id=str(attempt.pk),
        ip=attempt.ip,
        service=waiting.requirement.service if waiting else "",
        resend=resend,
        trusted_network=trusted.network_of(attempt.ip),
    )


@require_http_methods(["GET"])
def other(request: HttpRequest) -> HttpResponse:
    """Sign in another way: the person's other registered methods."""
    try:
        attempt = engine.current(request)
    except VahvaError as exc:
        return _finished_elsewhere(request, exc)
    return render(request, "signin/other.html", _other_context(request, attempt))


def _other_context(request: HttpRequest, attempt: SignInAttempt) -> dict[str, Any]:
    return {
        "choices": choices.ways(request, attempt),
        "phishing_resistant": engine.phishing_resistant_only(request, attempt),
    }


def _requirement(request: HttpRequest, next_url: str) -> requirements.Requirement | None:
    waiting = requirements.pending(request, next_url)
    return waiting.requirement if waiting else None


def _passkey_page(request: HttpRequest, next_url: str) -> dict[str, Any]:
    waiting = requirements.pending(request, next_url)
    return {
        "form": PasswordForm(initial={"next": next_url}),
        "service": waiting.requirement.service if waiting else "",
        "passkeys": passkeys.offered(),
    }


@require_POST
def passkey_options(request: HttpRequest) -> JsonResponse:
    """The options for "Sign in with a passkey" (a fresh challenge for this session)."""
    if not passkeys.available():
        return JsonResponse({"error": "passkey sign-in is not enabled"}, status=404)
    return JsonResponse(passkeys.passkey_options(request))


@require_POST
def passkey(request: HttpRequest) -> HttpResponse:
    """Sign in with a passkey instead of the password (when the deployment allows it)."""
    if not passkeys.available():
        return render(
            request,
            "web/error.html",
            {"title": _("Not available"), "message": _("Sign in with your password.")},
            status=404,
        )
    next_url = safe_next(request, request.POST.get("next"))
    context = _passkey_page(request, next_url)
    form = CredentialForm(request.POST)
    if not form.is_valid():
        message = next(iter(form.errors.get("code", [])), "")
        return render(request, "signin/password.html", {**context, "error": message}, status=400)
    try:
        attempt = passkeys.passkey_sign_in(
            request,
            form.cleaned_data["code"],
            next_url=next_url,
            requirement=_requirement(request, next_url),
        )
    except VahvaError as exc:
        return _error_response(request, "signin/password.html", context, exc)
    return _after_sign_in(request, next_url, attempt.user_id)


@require_http_methods(["GET", "POST"])
def signout(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "signin/signout.html")
    if request.user.is_authenticated:
        record("signout", subject=request.user, actor=request.user, request=request)
    logout(request)
    return render(request, "signin/signed_out.html")
