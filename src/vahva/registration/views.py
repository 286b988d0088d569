"""The setup wizard and "Add a method" (Security info itself is in :mod:`.security_info`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from vahva import clock
from vahva.accounts.models import signed_in
from vahva.audit.log import record
from vahva.conf import settings
from vahva.errors import (
    AlreadyCompleted,
    ExpiredChallenge,
    MalformedInput,
    RateLimited,
    VahvaError,
)
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.base import Answer, Role
from vahva.policy import exemptions
from vahva.policy.decide import enforced_from
from vahva.signin import engine
from vahva.signin.forms import EnrolCredentialForm
from vahva.signin.reauth import recently_authenticated
from vahva.signin.requirements import is_staff
from vahva.signin.views import safe_next

from . import campaign, wizard
from .forms import ChooseMethodForm, EnrolCodeForm

SESSION_PENDING = "vahva_pending_enrolment"
SESSION_NEXT = "vahva_setup_next"


def _wizard_context(request: HttpRequest, current: int, step: wizard.Step | None) -> dict[str, Any]:
    all_steps = wizard.steps()
    has = methods.has_methods(signed_in(request))
    # Staff get no "Not now": their accounts reach everyone else's.
    left = (
        0
        if has or is_staff(request.user)
        else campaign.standing(request.user, now=clock.now()).snoozes_left
    )
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


def _enrol_form(method: Any, data: Any = None) -> EnrolCodeForm | EnrolCredentialForm:
    """A security key's answer is the browser's WebAuthn JSON, not a 6-digit code."""
    return EnrolCredentialForm(data) if method.answer is Answer.CREDENTIAL else EnrolCodeForm(data)


def _enrol_url(kind: str, pending: Any, *, in_wizard: bool) -> str:
    """The enrolment page of ``kind``; a change of number keeps saying which phone it replaces."""
    name = "registration:setup_enrol" if in_wizard else "registration:enrol"
    url = reverse(name, kwargs={"kind": kind})
    old = methods.replaced_by(pending)
    return f"{url}?replace={old.pk}" if old else url


@login_required
@require_http_methods(["GET"])
def setup(request: HttpRequest) -> HttpResponse:
    """Keep your account secure: the first step the person has not done yet."""
    next_url = safe_next(request, request.GET.get("next"))
    if next_url:
        request.session[SESSION_NEXT] = next_url
    found = wizard.next_step(_done_kinds(request))
    if found is None:
        return redirect("registration:done")
    index, step = found
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
    snoozed = None if is_staff(request.user) else campaign.snooze(request.user, now=clock.now())
    if snoozed is None:
        request.session[campaign.SESSION_MUST_REGISTER] = True
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
    form = ChooseMethodForm(request.POST or None)
    context: dict[str, Any] = {"form": form, "in_wizard": in_wizard}
    if in_wizard:
        context.update(_wizard_context(request, 1, None))
    if request.method == "POST":
        if form.is_valid():
            name = "registration:setup_enrol" if in_wizard else "registration:enrol"
            return redirect(name, kind=form.cleaned_data["kind"])
        return render(request, "registration/choose.html", context, status=400)
    return render(request, "registration/choose.html", context)


def _pending_for(request: HttpRequest, kind: str, replacing: Any = None) -> Any:
    """Reuse this browser's pending enrolment of ``kind`` while valid, else start one.

    A change of number (``replacing`` a phone) and an added method never share one: an
    abandoned change must not replace the phone when a method is added later."""
    method = registry.get(kind)
    pending_id = request.session.get(SESSION_PENDING)
    if pending_id:
        try:
            pending = methods.get_pending(signed_in(request), pending_id)
            old = methods.replaced_by(pending)
            same = (old.pk if old else None) == (replacing.pk if replacing else None)
            if pending.kind == kind and pending.expires_at > clock.now() and same:
                return pending
        except VahvaError:
            pass
    pending = method.start_enrolment(signed_in(request), now=clock.now())
    if replacing is not None:
        pending = methods.mark_replacing(pending, replacing)
    request.session[SESSION_PENDING] = str(pending.pk)
    return pending


@login_required
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest, kind: str, in_wizard: bool = False) -> HttpResponse:
    """Set up one method: show the QR (or ask for a number...), check the proof, save."""
    try:
        method = registry.get(kind)
        if method.role is Role.STAND_IN:
            # A temporary access pass is issued by the helpdesk, never set up by the person.
            raise KeyError(kind)
    except KeyError:
        return render(
            request,
            "web/error.html",
            {
                "title": _("Unknown method"),
                "message": _("That sign-in method does not exist here."),
            },
            status=404,
        )
    if needsreauth(request):
        return reauth(request)
    found = wizard.next_step(_done_kinds(request)) if in_wizard else None
    context: dict[str, Any] = {"method": method, "in_wizard": in_wizard}
    if in_wizard:
        context.update(
            _wizard_context(request, found[0] if found else 1, found[1] if found else None)
        )
    if request.method == "GET":
        replacing = None
        if request.GET.get("replace"):
            # "Change number": the phone it replaces is looked up by (user, id), never trusted.
            try:
                replacing = methods.replaceable_of(
                    signed_in(request), request.GET["replace"], by=kind
                )
            except MalformedInput:
                return not_yours(request)
        pending = _pending_for(request, kind, replacing)
        context.update(method.enrolment_context(pending), form=_enrol_form(method), pending=pending)
        return render(request, f"methods/{kind}/enrol.html", context)

    form = _enrol_form(method, request.POST)
    try:
        pending = methods.get_pending(signed_in(request), request.session.get(SESSION_PENDING))
        if pending.kind != kind:
            raise ExpiredChallenge()
        if request.POST.get("action"):
            return _enrol_action(request, method, pending, context, in_wizard=in_wizard)
    except AlreadyCompleted:
        # Double-submitted form: the first submit saved the method; carry on from there.
        return redirect("registration:setup" if in_wizard else "registration:security_info")
    except VahvaError as exc:
        return render(
            request,
            "registration/enrol_expired.html",
            {**context, "error": exc.message},
            status=exc.status,
        )
    context.update(method.enrolment_context(pending), form=form, pending=pending)
    if not form.is_valid():
        return render(request, f"methods/{kind}/enrol.html", context, status=400)
    replaced = methods.replaced_by(pending)
    try:
        registered = method.finish_enrolment(
            pending, form.cleaned_data["code"], now=clock.now(), name=form.cleaned_data["name"]
        )
    except AlreadyCompleted:
        return redirect("registration:setup" if in_wizard else "registration:security_info")
    except ExpiredChallenge as exc:
        return render(
            request,
            "registration/enrol_expired.html",
            {**context, "error": exc.message},
            status=exc.status,
        )
    except VahvaError as exc:
        record(
            "method.enrol",
            subject=request.user,
            actor=request.user,
            request=request,
            outcome="failure",
            reason=engine.failure_reason(exc),
            method=kind,
        )
        return render(
            request,
            f"methods/{kind}/enrol.html",
            {**context, "error": exc.message},
            status=exc.status,
        )
    # The consumed enrolment's id stays in the session: a double-submitted form then meets
    # AlreadyCompleted (and carries on) instead of "expired".
    if replaced is not None:
        record(
            "method.changed",
            subject=request.user,
            actor=request.user,
            request=request,
            change="number",
            method=kind,
            method_id=registered.pk,
            old_method=replaced.kind,
            old_method_id=replaced.pk,
        )
        messages.success(
            request,
            _("Your phone number was changed: %(method)s.")
            % {"method": method.describe(registered)},
        )
        return redirect("registration:setup" if in_wizard else "registration:security_info")
    record(
        "method.added",
        subject=request.user,
        actor=request.user,
        request=request,
        method=kind,
        method_id=registered.pk,
    )
    if in_wizard:
        if method.verified_message:
            messages.success(request, str(method.verified_message))
        return redirect("registration:setup")
    messages.success(request, method.added_message(registered))
    return redirect("registration:security_info")


def _enrol_action(
    request: HttpRequest, method: Any, pending: Any, context: dict[str, Any], *, in_wizard: bool
) -> HttpResponse:
    """A step of the enrolment page before the proof ("Text me a code", "Resend code")."""
    ip = getattr(request, "client_ip", None) or request.META.get("REMOTE_ADDR")
    try:
        pending = method.enrolment_action(
            pending, str(request.POST["action"]), request.POST.dict(), now=clock.now(), ip=ip
        )
    except AlreadyCompleted:
        return redirect("registration:setup" if in_wizard else "registration:security_info")
    except VahvaError as exc:
        context.update(method.enrolment_context(pending), form=EnrolCodeForm(), pending=pending)
        context.update(error=exc.message, posted=request.POST)
        response = render(request, f"methods/{pending.kind}/enrol.html", context, status=exc.status)
        if isinstance(exc, RateLimited):
            response["Retry-After"] = str(exc.retry_after)
        return response
    # Post/redirect/get: a reload does not text again; the page is the (new) kind's.
    return redirect(_enrol_url(pending.kind, pending, in_wizard=in_wizard))


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
