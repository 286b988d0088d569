"""The setup wizard and "Add a method" (Security info itself is in :mod:`.security_info`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from vahva import clock
from vahva.accounts.models import signed_in
from vahva.audit.log import record
from vahva.conf import settings
from vahva.errors import AlreadyCompleted, ExpiredChallenge, MalformedInput, RateLimited, VahvaError
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.base import Answer, Method
from vahva.methods.models import PendingEnrolment
from vahva.policy import exemptions
from vahva.policy.decide import enforced_from
from vahva.signin.forms import EnrolCredentialForm
from vahva.signin.reauth import recently_authenticated
from vahva.signin.requirements import is_staff
from vahva.signin.views import safe_next

from . import campaign, enrolment, failures, wizard
from .forms import ChooseMethodForm, EnrolCodeForm

SESSION_PENDING = enrolment.SESSION_PENDING
SESSION_NEXT = "vahva_setup_next"


def _wizard_context(request: HttpRequest, current: int, step: wizard.Step | None) -> dict[str, Any]:
    all_steps = wizard.steps()
    person = signed_in(request)
    has = methods.has_methods(person)
    # Staff get no "Not now": their accounts reach everyone else's.
    left = 0 if has or is_staff(person) else campaign.standing(person, now=clock.now()).snoozes_left
    return {
        "wizard": True,
        "steps": all_steps,
        "current": current,
        "total": len(all_steps),
        "step": step,
        # A person with a method may leave the later steps for now; a person without one
        # may put registering off while the campaign's snoozes last.
        "allow_skip": has or left > 0,
        "snooze": None if has else {"left": left, "days": settings.REGISTRATION_SNOOZE_DAYS},
    }


def _done_kinds(request: HttpRequest) -> set[str]:
    return {m.kind for m in methods.registered_for(signed_in(request))}


def needsreauth(request: HttpRequest) -> bool:
    # Session hijack → planting an attacker's app: a person who already has methods must
    # have proved who they are recently before another method is added or one removed.
    return methods.has_methods(signed_in(request)) and not recently_authenticated(request)


def reauth(request: HttpRequest, next_url: str = "") -> HttpResponse:
    back = next_url or request.get_full_path()
    return redirect(f"{reverse('signin:confirm')}?next={quote(back, safe='/')}")


def not_yours(request: HttpRequest, status: int = 404) -> HttpResponse:
    return render(
        request,
        "web/error.html",
        {"title": _("Unknown method"), "message": _("Choose one of your own methods.")},
        status=status,
    )


def _enrol_form(method: Method, data: Any = None) -> EnrolCodeForm | EnrolCredentialForm:
    """A security key's answer is the browser's WebAuthn JSON, not a 6-digit code."""
    return EnrolCredentialForm(data) if method.answer is Answer.CREDENTIAL else EnrolCodeForm(data)


def _enrol_url(kind: str, pending: PendingEnrolment, *, in_wizard: bool) -> str:
    """The enrolment page of ``kind``; a change of number keeps saying which phone it replaces."""
    name = "registration:setup_enrol" if in_wizard else "registration:enrol"
    url = reverse(name, kwargs={"kind": kind})
    old = methods.replaced_by(pending)
    return f"{url}?replace={old.pk}" if old else url


@login_required
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """Keep your account secure: the first step the person has not done yet."""
    next_url = safe_next(request, request.GET.get("next"))
    if next_url:
        request.session[SESSION_NEXT] = next_url
    found = wizard.next_step(_done_kinds(request))
    if found is None:
        return redirect("registration:done")
    index, step = found
    if not step.template:
        # The step opens on its lead method's enrolment page, here at the wizard's address
        # (one page fewer: the app's QR both brings the app and adds the account). Its forms
        # post here: a step done meanwhile (another tab) is met as AlreadyCompleted.
        return enrol(request, step.primary, in_wizard=True)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    context = _wizard_context(request, index, step)
    context.update(registry.get(step.primary).wizard_context())
    return render(request, step.template, context)


@login_required
@require_http_methods(["GET"])
def done(request: HttpRequest) -> HttpResponse:
    person = signed_in(request)
    registered = methods.listed_for(person)
    default = registered[0] if registered else None
    # When the second factor starts to be asked (the activation delay after registering), as
    # Security info says it: the wizard says the same.
    first = methods.first_registered_at(person)
    enforced = enforced_from(first, settings.ACTIVATION_DELAY) if first else None
    return render(
        request,
        "registration/done.html",
        {
            **_wizard_context(request, len(wizard.steps()), None),
            "default": registry.get(default.kind).describe(default) if default else None,
            "next": request.session.get(SESSION_NEXT, ""),
            "enforced_from": enforced if enforced and enforced > clock.now() else None,
        },
    )


@login_required
@require_http_methods(["GET"])
def start(request: HttpRequest) -> HttpResponse:
    """Where sign-in sends a person without methods: the wizard, unless they put it off."""
    next_url = safe_next(request, request.GET.get("next"))
    now = clock.now()
    user = signed_in(request)
    if methods.has_methods(user) or exemptions.active_for(user, now=now) is not None:
        return redirect(next_url or reverse("registration:security_info"))
    found = campaign.standing(user, now=now)
    if found.snoozed_until is not None and not is_staff(user):
        # "Not now" holds: not asked again until it ends.
        return redirect(next_url or reverse("registration:security_info"))
    if found.snoozes_left == 0 or is_staff(user):
        request.session[campaign.SESSION_MUST_REGISTER] = True
    target = reverse("registration:setup")
    return redirect(f"{target}?next={quote(next_url, safe='/')}" if next_url else target)


@login_required
@require_POST
def skip(request: HttpRequest) -> HttpResponse:
    """ "Skip for now" of a later step, or "Not now" (a snooze) for a person without methods."""
    next_url = request.session.pop(SESSION_NEXT, "") or reverse("registration:security_info")
    if methods.has_methods(signed_in(request)):
        record("setup.skipped", subject=request.user, actor=request.user, request=request)
        # Skipping a later step (the phone): the wizard still ends with what was set up.
        return redirect("registration:done")
    # A posted "Not now" the page did not offer (staff, or none left) is refused here too.
    person = signed_in(request)
    snoozed = None if is_staff(person) else campaign.snooze(person, now=clock.now())
    if snoozed is None:
        request.session[campaign.SESSION_MUST_REGISTER] = True
        # Refused, not redirected: the wizard offered no "Not now" (staff, or none left), so
        # this POST was forged or its page stale; nothing was changed to post again.
        return render(
            request,
            "web/error.html",
            {
                "title": _("Setup cannot be put off"),
                "message": _("Your organisation requires you to set up a sign-in method now."),
            },
            status=403,
        )
    # "Not now" holds: the session may leave the wizard until the snooze ends (the door
    # re-decides from the snooze itself on every assertion).
    request.session.pop(campaign.SESSION_MUST_REGISTER, None)
    record(
        "setup.snoozed",
        subject=request.user,
        actor=request.user,
        request=request,
        snoozes_left=snoozed.snoozes_left,
        until=snoozed.snoozed_until.isoformat() if snoozed.snoozed_until else "",
    )
    return redirect(next_url)


@login_required
@require_http_methods(["GET", "POST"])
def choose(request: HttpRequest, in_wizard: bool = False) -> HttpResponse:
    """Which method would you like to add?"""
    if needsreauth(request):
        return reauth(request)
    if request.method == "POST":
        form = ChooseMethodForm(request.POST)
        if form.is_valid():
            name = "registration:setup_enrol" if in_wizard else "registration:enrol"
            return redirect(name, kind=form.cleaned_data["kind"])
        return failures.redirect_failed(request, status=400, form=form, keep=("kind",))
    failure = failures.recalled(request)
    context: dict[str, Any] = {
        "form": failures.form_again(ChooseMethodForm, failure),
        "in_wizard": in_wizard,
    }
    if in_wizard:
        context.update(_wizard_context(request, 1, None))
    return failures.render_page(request, "registration/choose.html", context, failure)


#: The enrolment page's fields that may be shown again after a failure (never the code).
KEPT_FIELDS = ("name", "country", "number", "delivery", "known", "serial")
#: Failure.page of an enrolment that must start again.
EXPIRED = "expired"


@login_required
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest, kind: str, in_wizard: bool = False) -> HttpResponse:
    """Set up one method: show the QR (or ask for a number...), check the proof, save."""
    try:
        method = enrolment.method_for(kind)
    except enrolment.UnknownMethod as exc:
        return render(
            request,
            "web/error.html",
            {"title": _("Unknown method"), "message": exc.message},
            status=exc.status,
        )
    if needsreauth(request):
        return reauth(request)
    if request.method == "POST":
        return _enrol_post(request, method, in_wizard=in_wizard)
    context = _enrol_context(request, method, in_wizard=in_wizard)
    failure = failures.recalled(request)
    if failure is not None and failure.page == EXPIRED:
        return failures.render_page(request, "registration/enrol_expired.html", context, failure)
    try:
        pending = enrolment.pending_for(
            request.session,
            signed_in(request),
            method,
            replace=request.GET.get("replace"),
            now=clock.now(),
        )
    except MalformedInput:
        return not_yours(request)
    form = failures.form_again(lambda data: _enrol_form(method, data), failure)
    context.update(method.enrolment_context(pending), form=form, pending=pending)
    return failures.render_page(request, f"methods/{kind}/enrol.html", context, failure)


def _enrol_context(request: HttpRequest, method: Method, *, in_wizard: bool) -> dict[str, Any]:
    context: dict[str, Any] = {"method": method, "in_wizard": in_wizard}
    if in_wizard:
        found = wizard.next_step(_done_kinds(request))
        context.update(
            _wizard_context(request, found[0] if found else 1, found[1] if found else None)
        )
        # What the method adds to its page in the wizard (Method.wizard_context).
        context.update(method.wizard_context())
    return context


def _enrol_post(request: HttpRequest, method: Method, *, in_wizard: bool) -> HttpResponse:
    """The enrolment page's forms: an action before the proof, or the proof. Every outcome
    is a redirect (post/redirect/get): Back and Reload never send a code or a text again."""
    onwards = "registration:setup" if in_wizard else "registration:security_info"
    now = clock.now()
    try:
        pending = enrolment.current(request.session, signed_in(request), method.kind)
        if request.POST.get("action"):
            pending = enrolment.act(
                pending,
                action=str(request.POST["action"]),
                data=request.POST.dict(),
                now=now,
                ip=getattr(request, "client_ip", None) or request.META.get("REMOTE_ADDR"),
            )
            # The page is the (new) kind's: a number to be called instead of texted.
            return redirect(_enrol_url(pending.kind, pending, in_wizard=in_wizard))
        form = _enrol_form(method, request.POST)
        if not form.is_valid():
            return failures.redirect_failed(request, status=400, form=form, keep=KEPT_FIELDS)
        saved = enrolment.finish(
            request,
            pending,
            response=form.cleaned_data["code"],
            name=form.cleaned_data["name"],
            now=now,
        )
    except AlreadyCompleted:
        # Double-submitted form: the first submit saved the method; carry on from there.
        return redirect(onwards)
    except ExpiredChallenge as exc:
        return failures.redirect_failed(request, status=exc.status, error=exc.message, page=EXPIRED)
    except VahvaError as exc:
        return failures.redirect_failed(
            request,
            status=exc.status,
            error=exc.message,
            keep=KEPT_FIELDS,
            retry_after=exc.retry_after if isinstance(exc, RateLimited) else None,
        )
    if saved.replaced is not None:
        messages.success(
            request,
            _("Your phone number was changed: %(method)s.")
            % {"method": method.describe(saved.registered)},
        )
    elif in_wizard:
        if method.verified_message:
            messages.success(request, str(method.verified_message))
    else:
        messages.success(request, method.added_message(saved.registered))
    return redirect(onwards)


@login_required
@require_http_methods(["GET"])
def enrol_status(request: HttpRequest, kind: str, in_wizard: bool = False) -> JsonResponse:
    """Where a waiting enrolment (a call to answer) is, for its page to poll."""
    try:
        pending = methods.get_pending(signed_in(request), request.session.get(SESSION_PENDING))
    except AlreadyCompleted:
        return JsonResponse({"state": "done"})
    except VahvaError as exc:
        return JsonResponse({"state": "gone", "message": str(exc.message)}, status=exc.status)
    if pending.kind != kind:
        return JsonResponse({"state": "gone"}, status=410)
    return JsonResponse(registry.get(kind).enrolment_status(pending, now=clock.now()))
