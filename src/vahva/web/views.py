from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from vahva.conf import settings
from vahva.policy import trusted


@require_http_methods(["GET"])
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("registration:security_info")
    return redirect("signin:password")


def admin_login(request: HttpRequest) -> HttpResponse:
    """Send the admin site's sign-in to vahva's own; the target is checked there."""
    if request.user.is_authenticated:
        # Signed in but not staff: sending them to sign in again would loop.
        return render(
            request,
            "web/error.html",
            {
                "title": _("Not allowed"),
                "message": _("Your account does not have access to the admin site."),
            },
            status=403,
        )
    target = request.GET.get("next") or "/admin/"
    return redirect(f"{reverse('signin:password')}?{urlencode({'next': target})}")


@require_http_methods(["GET"])
def help_page(request: HttpRequest) -> HttpResponse:
    """The guide and FAQ, with this deployment's own policy filled in."""
    delay = int(settings.ACTIVATION_DELAY)
    return render(
        request,
        "web/help.html",
        {
            "trusted_networks": [network.name for network in trusted.trusted_networks()],
            # Shown in whole hours (the seed's "approx. 2 hours"); under an hour, not at all.
            "activation_hours": round(delay / 3600) if delay >= 3600 else 0,
            "remember_days": int(settings.REMEMBER_DEVICE_DAYS),
        },
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(
        request,
        "web/error.html",
        {
            "title": _("This form has expired"),
            "message": _(
                "Go back, reload the page and try again. If you keep seeing this, "
                "allow cookies for this site."
            ),
        },
        status=403,
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(
        request,
        "web/error.html",
        {
            "title": _("Bad request"),
            "message": _("The request was not understood."),
        },
        status=400,
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(
        request,
        "web/error.html",
        {
            "title": _("Not allowed"),
            "message": _("You do not have access to this page."),
        },
        status=403,
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(
        request,
        "web/error.html",
        {
            "title": _("Page not found"),
            "message": _("There is no page at this address."),
        },
        status=404,
    )


def server_error(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "web/error.html",
        {
            "title": _("Something went wrong"),
            "message": _("The error has been logged. Try again in a moment."),
        },
        status=500,
    )
