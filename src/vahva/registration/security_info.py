"""Security info: the person's methods, the default, removal, phone changes, recent
sign-ins and reports."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from vahva import clock
from vahva.accounts.models import signed_in
from vahva.audit.log import record
from vahva.audit.models import AuditEvent
from vahva.conf import settings
from vahva.errors import MalformedInput
from vahva.methods import registry
from vahva.methods import service as methods
from vahva.methods.base import Answer, Include, Role
from vahva.policy.decide import enforced_from
from vahva.sessions import service as browser_sessions
from vahva.signin import remembered
from vahva.signin.reauth import recently_authenticated

from . import failures
from .views import not_yours, reauth


def _method_label(kind: str) -> str:
    if not kind:
        return _("Password only")
    try:
        return str(registry.get(kind).label)
    except KeyError:
        return kind


@login_required
@require_http_methods(["GET"])
def security_info(request: HttpRequest) -> HttpResponse:
    person = signed_in(request)
    registered = methods.listed_for(person)
    now = clock.now()
    rows = [
        {
            "registered": m,
            "label": registry.get(m.kind).describe(m),
            # Recovery codes are never the default: the sign-in would lead with them.
            "defaultable": registry.get(m.kind).role is Role.METHOD,
            # What the method offers on its row besides "Remove" ("Change number").
            "section": registry.get(m.kind).security_row(m),
        }
        for m in registered
    ]
    installed = registry.all_methods()
    first = methods.first_registered_at(person)
    enforced = enforced_from(first, settings.ACTIVATION_DELAY) if first else None
    return failures.render_page(
        request,
        "registration/security_info.html",
        {
            "rows": rows,
            "default": next((row for row in rows if row["defaultable"]), None),
            "enforced_from": enforced if enforced and enforced > now else None,
            "signins": [
                {
                    "event": event,
                    "method": _method_label(event.data.get("method", "")),
                    # A security key's refusal is no "wrong code": nothing was typed.
                    "ceremony": _is_ceremony(event.data.get("method", "")),
                }
                for event in _recent_signins(request.user)
            ],
            "remembered": [
                {
                    "device": device,
                    "label": remembered.shown_label(device.label),
                    "this": remembered.is_this_browser(request, device),
                }
                for device in remembered.devices_of(request.user, now=now)
            ],
            "can_add": bool(registry.enrolable()),
            # What the methods say at the top (requests to the app paused, reported
            # requests) and in cards of their own (recovery codes left).
            "notices": _present(m.security_notice(person, now=now) for m in installed),
            "sections": _present(m.security_section(person, now=now) for m in installed),
            # Where the person is signed in (sessions/security_info_sessions.html).
            "sessions": browser_sessions.listed_for(request, now=now),
        },
        # A change below that failed: said here after the redirect (post/redirect/get).
        failures.recalled(request),
    )


def _refused(request: HttpRequest, status: int, error: str = "") -> HttpResponse:
    """A change of a method that is not the person's (another's id, or one removed in another
    tab): said on Security info after a redirect, so Back does not post it again."""
    return failures.redirect_failed(
        request,
        status=status,
        error=error or _("Choose one of your own methods."),
        to=reverse("registration:security_info"),
    )


def _is_ceremony(kind: str) -> bool:
    try:
        return registry.get(kind).answer is Answer.CREDENTIAL
    except KeyError:
        return False


def _present(found: Iterable[Include | None]) -> list[Include]:
    return [section for section in found if section is not None]


def _recent_signins(user: object) -> list[AuditEvent]:
    """Sign-ins, wrong passwords and wrong codes (not the "password accepted" step rows)."""
    return list(
        AuditEvent.objects.filter(subject_id=getattr(user, "pk", None))
        .filter(
            Q(action__in=("signin.success", "signin.mfa"))
            | Q(action__in=("signin.password", "signin.passkey"), outcome="failure")
        )
        .order_by("-at", "-id")[:10]
    )


@login_required
@require_POST
def forget_remembered(request: HttpRequest, device_id: int | None = None) -> HttpResponse:
    """Forget one remembered browser, or all of them ("Forget all")."""
    if device_id is None:
        count = remembered.forget_all(request.user)
    else:
        count = int(remembered.forget(request.user, device_id))
        if not count:
            # Another person's browser, or one forgotten in another tab.
            return _refused(request, 404, _("That browser is not remembered any more."))
    record(
        "remembered.forgotten",
        subject=request.user,
        actor=request.user,
        request=request,
        reason="forgotten on Security info",
        count=count,
        device=device_id,
    )
    messages.success(
        request,
        _("This browser and the others will ask for a second factor again.")
        if device_id is None
        else _("That browser will ask for a second factor again."),
    )
    return redirect("registration:security_info")


@login_required
@require_POST
def set_default(request: HttpRequest) -> HttpResponse:
    try:
        method = methods.set_default(signed_in(request), request.POST.get("method"))
    except MalformedInput:
        return _refused(request, 400)
    record(
        "method.default",
        subject=request.user,
        actor=request.user,
        request=request,
        method=method.kind,
        method_id=method.pk,
    )
    messages.success(request, _("Your default sign-in method was changed."))
    return redirect("registration:security_info")


@login_required
@require_http_methods(["GET", "POST"])
def remove(request: HttpRequest, method_id: int) -> HttpResponse:
    try:
        registered = methods.get_for(signed_in(request), method_id)
    except MalformedInput:
        return _refused(request, 404) if request.method == "POST" else not_yours(request, 404)
    label = registry.get(registered.kind).describe(registered)
    if request.method == "GET":
        return render(
            request, "registration/remove.html", {"label": label, "registered": registered}
        )
    if not recently_authenticated(request):
        return reauth(request)
    methods.remove(signed_in(request), registered.pk)
    record(
        "method.removed",
        subject=request.user,
        actor=request.user,
        request=request,
        method=registered.kind,
        method_id=registered.pk,
    )
    messages.success(request, _("%(method)s was removed.") % {"method": label})
    return redirect("registration:security_info")


@login_required
@require_POST
def method_change(request: HttpRequest, method_id: int, action: str) -> HttpResponse:
    """A change a method offers on its row ("Use calls instead" / "Use texts instead")."""
    try:
        registered = methods.get_for(signed_in(request), method_id)
    except MalformedInput:
        return _refused(request, 404)
    if not recently_authenticated(request):
        # Session hijack: a change needs a recent sign-in. Back to Security info afterwards:
        # this POST cannot be repeated by a redirect.
        return reauth(request, reverse("registration:security_info"))
    before = registered.kind
    try:
        changed, done = registry.get(before).change(registered, action, request.POST.dict())
    except MalformedInput as exc:
        return failures.redirect_failed(
            request, status=exc.status, error=exc.message, to=reverse("registration:security_info")
        )
    if changed.kind != before:
        record(
            "method.changed",
            subject=request.user,
            actor=request.user,
            request=request,
            change=action[:32],
            method=changed.kind,
            method_id=changed.pk,
            old_method=before,
        )
    messages.success(request, done)
    return redirect("registration:security_info")
