"""Security info: the person's methods, the default, removal, phone changes, recent
sign-ins and reports."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from vahva import clock
from vahva.audit.log import recent_for, record
from vahva.conf import settings
from vahva.errors import MalformedInput
from vahva.methods import app_push, phone, registry
from vahva.methods import service as methods
from vahva.policy.decide import enforced_from
from vahva.signin import engine

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
    registered = methods.registered_for(request.user)
    kinds = {m.kind for m in registry.all_methods()}
    rows = [
        {
            "registered": m,
            "label": registry.get(m.kind).describe(m),
            "phone": m.kind in phone.DELIVERIES,
            # Text <-> call, when this deployment offers the other one.
            "switch_to": next((k for k in phone.DELIVERIES if k != m.kind and k in kinds), None)
            if m.kind in phone.DELIVERIES
            else None,
        }
        for m in registered
    ]
    first = methods.first_registered_at(request.user)
    enforced = enforced_from(first, settings.ACTIVATION_DELAY) if first else None
    return render(
        request,
        "registration/security_info.html",
        {
            "rows": rows,
            "default": rows[0] if rows else None,
            "enforced_from": enforced if enforced and enforced > clock.now() else None,
            "signins": [
                {"event": event, "method": _method_label(event.data.get("method", ""))}
                for event in recent_for(
                    request.user, actions=("signin.success", "signin.mfa", "signin.password")
                )
            ],
            "can_add": bool(registry.enrolable()),
            # "It wasn't me" answers: the person sees them here, the helpdesk got an e-mail.
            "reports": recent_for(request.user, actions=("push.reported",), limit=5),
            "held_until": app_push.pushes_held_until(request.user),
        },
    )


@login_required
@require_POST
def set_default(request: HttpRequest) -> HttpResponse:
    try:
        method = methods.set_default(request.user, request.POST.get("method"))
    except MalformedInput:
        return render(
            request,
            "web/error.html",
            {
                "title": _("Unknown method"),
                "message": _("Choose one of your own methods."),
            },
            status=400,
        )
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
        registered = methods.get_for(request.user, method_id)
    except MalformedInput:
        return render(
            request,
            "web/error.html",
            {
                "title": _("Unknown method"),
                "message": _("Choose one of your own methods."),
            },
            status=404,
        )
    label = registry.get(registered.kind).describe(registered)
    if request.method == "GET":
        return render(
            request, "registration/remove.html", {"label": label, "registered": registered}
        )
    if not engine.recently_authenticated(request):
        return reauth(request)
    methods.remove(request.user, registered.pk)
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
def phone_delivery(request: HttpRequest, method_id: int) -> HttpResponse:
    """Text ↔ call for one of the person's phones ("Use calls instead" / "Use texts instead")."""
    try:
        phone.phone_of(request.user, method_id)
    except MalformedInput:
        return not_yours(request)
    if not engine.recently_authenticated(request):
        # Back to Security info afterwards: this POST cannot be repeated by a redirect.
        return reauth(request, reverse("registration:security_info"))
    try:
        registered, before = phone.set_delivery(
            request.user, method_id, str(request.POST.get("delivery", ""))
        )
    except MalformedInput as exc:
        return render(
            request,
            "web/error.html",
            {"title": _("Unknown method"), "message": exc.message},
            status=exc.status,
        )
    if registered.kind != before:
        record(
            "method.changed",
            subject=request.user,
            actor=request.user,
            request=request,
            change="delivery",
            method=registered.kind,
            method_id=registered.pk,
            old_method=before,
        )
    label = registry.get(registered.kind).describe(registered)
    if registered.kind == "voice":
        done = _("From now on we call your phone: %(method)s.")
    else:
        done = _("From now on we text codes to your phone: %(method)s.")
    messages.success(request, done % {"method": label})
    return redirect("registration:security_info")
