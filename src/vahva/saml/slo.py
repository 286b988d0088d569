"""SP-initiated single logout, front channel (SAML Profiles §4.4, HTTP-Redirect and POST).

A service sends the browser with a LogoutRequest; vahva ends its own session and sends the
browser back with a signed LogoutResponse to the service's SingleLogoutService from its
metadata (never to an address in the request). A forged logout (CSRF that signs people out)
is refused: the request must be signed, or name the very NameID vahva issued to that
service for the person signed in here.
"""

from __future__ import annotations

import base64

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, samlp
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from vahva.audit.log import record
from vahva.conf import settings
from vahva.web.middleware import allow_form_target

from . import errors, idp, inbound, providers, spmeta
from .models import ServiceProvider


def single_logout(request: HttpRequest, *, binding: str) -> HttpResponse:
    params = request.GET if binding == BINDING_HTTP_REDIRECT else request.POST
    raw = params.get("SAMLRequest")
    if not raw:
        raise errors.MalformedMessage("no SAMLRequest parameter")
    limit = int(settings.SAML_MAX_MESSAGE_BYTES)
    envelope = inbound.envelope(
        inbound.decode(raw, binding=binding, limit=limit), expected="LogoutRequest"
    )
    sp = providers.usable().filter(entity_id=envelope.issuer).first()
    if sp is None:
        raise errors.UnknownService("no enabled service with this entity id", envelope.issuer)
    signature = params.get("Signature") if binding == BINDING_HTTP_REDIRECT else None
    try:
        return _logout(
            request,
            sp,
            raw=raw,
            binding=binding,
            relay_state=params.get("RelayState"),
            sigalg=params.get("SigAlg"),
            signature=signature,
            signed=bool(signature) or envelope.signed,
        )
    except errors.SamlError as exc:
        exc.service = sp.entity_id
        raise


def _logout(
    request: HttpRequest,
    sp: ServiceProvider,
    *,
    raw: str,
    binding: str,
    relay_state: str | None,
    sigalg: str | None,
    signature: str | None,
    signed: bool,
) -> HttpResponse:
    from .flow import check_redirect_signature, subject_for

    facts = spmeta.facts(sp.metadata_xml)
    if not facts.slo:
        raise errors.UnknownAcs("the service's metadata has no SingleLogoutService")
    must_sign = signed or sp.require_signed_requests
    if binding == BINDING_HTTP_REDIRECT:
        check_redirect_signature(request, facts, required=must_sign)
        must_sign = False  # checked above, over the query as it arrived
    # POST: a signature that is present is verified (pysaml2 then demands a valid one).
    server = idp.server_for(
        sp_id=sp.pk,
        version=sp.updated_at.isoformat(),
        metadata_xml=sp.metadata_xml,
        must_sign=must_sign,
    )
    try:
        parsed = server.parse_logout_request(raw, binding, relay_state=relay_state)
    except Exception as exc:  # pysaml2 raises many types for one thing: a bad signature
        raise errors.BadSignature(f"LogoutRequest: {type(exc).__name__}") from None
    if parsed is None or parsed.message is None:
        raise errors.MalformedMessage("the LogoutRequest could not be read")
    message = parsed.message
    user = request.user if request.user.is_authenticated else None
    named = (getattr(message.name_id, "text", None) or "").strip()
    status = None
    if user is not None:
        ours = subject_for(user, sp).persistent_id
        if signed or named == ours:
            record("saml.logout", subject=user, actor=user, request=request, service=sp.entity_id)
            logout(request)
        else:
            # CSRF logout: an unsigned request for someone else is not obeyed.
            record(
                "saml.refused",
                subject=user,
                actor=user,
                request=request,
                outcome="failure",
                reason="LogoutRequest: unsigned, for another NameID",
                service=sp.entity_id,
            )
            status = samlp.Status(
                status_code=samlp.StatusCode(
                    value=samlp.STATUS_REQUESTER,
                    status_code=samlp.StatusCode(value=samlp.STATUS_UNKNOWN_PRINCIPAL),
                )
            )
    return _respond(request, server, sp, facts, message, relay_state, status)


def _respond(
    request: HttpRequest,
    server: object,
    sp: ServiceProvider,
    facts: spmeta.Facts,
    message: object,
    relay_state: str | None,
    status: object,
) -> HttpResponse:
    bindings = dict(facts.slo)
    use = BINDING_HTTP_REDIRECT if BINDING_HTTP_REDIRECT in bindings else BINDING_HTTP_POST
    destination = bindings[use]
    response = server.create_logout_response(  # type: ignore[attr-defined]
        message,
        bindings=[use],
        status=status,
        sign=use == BINDING_HTTP_POST,
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    response.destination = destination
    if use == BINDING_HTTP_REDIRECT:
        info = server.apply_binding(  # type: ignore[attr-defined]
            use,
            str(response),
            destination,
            relay_state or "",
            response=True,
            sign=True,
            sigalg=SIG_RSA_SHA256,
        )
        return redirect(dict(info["headers"])["Location"])
    allow_form_target(request, destination)
    return render(
        request,
        "saml/post.html",
        {
            "service": sp.name,
            "acs_url": destination,
            "saml_response": base64.b64encode(str(response).encode()).decode(),
            "relay_state": relay_state or "",
        },
    )
