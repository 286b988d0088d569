"""The IdP's addresses: metadata, the SSO endpoint (both bindings) and the return address."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT

from . import errors, flow, idp
from .slo import single_logout


def _unavailable() -> HttpResponse:
    return HttpResponse(_("SAML sign-in is not available on this server."), status=503)


@require_GET
def metadata(request: HttpRequest) -> HttpResponse:
    try:
        xml = idp.signed_metadata_xml()
    except idp.NotConfigured:
        # Without xmlsec1 nothing can be signed (SSO answers 503, and a start-up check warns);
        # the addresses and certificates are still published, unsigned.
        xml = idp.metadata_xml()
    return HttpResponse(xml, content_type="application/samlmetadata+xml")


# The POST binding arrives from the service's own site: there is no CSRF token to check, and
# nothing is changed for the person by it (it only leads to the sign-in and the door).
@csrf_exempt
@require_http_methods(["GET", "POST"])
def sso(request: HttpRequest) -> HttpResponse:
    try:
        if request.method == "POST":
            received = flow.receive(request, binding=BINDING_HTTP_POST)
            return redirect(flow.resume_url(received))
        received = flow.receive(request, binding=BINDING_HTTP_REDIRECT)
        return flow.answer(request, flow.keep(request, received))
    except errors.SamlError as error:
        return flow.refused(request, error)
    except idp.NotConfigured:
        return _unavailable()


# A LogoutRequest arrives from the service's site like an AuthnRequest (no CSRF token); a
# forged one is refused in vahva.saml.slo (signed, or naming the person's own NameID).
@csrf_exempt
@require_http_methods(["GET", "POST"])
def slo(request: HttpRequest) -> HttpResponse:
    binding = BINDING_HTTP_POST if request.method == "POST" else BINDING_HTTP_REDIRECT
    try:
        return single_logout(request, binding=binding)
    except errors.SamlError as error:
        return flow.refused(request, error)
    except idp.NotConfigured:
        return _unavailable()


@require_GET
def resume(request: HttpRequest) -> HttpResponse:
    try:
        received = flow.resume(request, request.GET.get("state", ""))
        return flow.answer(request, flow.keep(request, received))
    except errors.SamlError as error:
        return flow.refused(request, error)


@require_GET
def continue_sso(request: HttpRequest, ticket: str) -> HttpResponse:
    """Where the person comes back after signing in: the door decides again."""
    try:
        return flow.answer(request, ticket)
    except errors.SamlError as error:
        return flow.refused(request, error)
    except idp.NotConfigured:
        return _unavailable()
