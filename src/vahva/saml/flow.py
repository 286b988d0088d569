"""Web browser SSO (SAML Profiles §4.1): receive an AuthnRequest, pass the door, answer.

Views call :func:`receive` and :func:`answer`; everything they need to do is here, with the
audit rows. The door (:func:`vahva.signin.requirements.step_for`) decides whether a Response
may be issued, on every path, with no decision of this room's own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from saml2 import BINDING_HTTP_REDIRECT
from saml2.server import Server

from vahva import clock
from vahva.audit.log import record
from vahva.conf import settings
from vahva.signin import requirements
from vahva.signin.requirements import Authentication, Outcome, Requirement, ServiceRule
from vahva.signin.responses import cannot_continue
from vahva.web.middleware import allow_form_target

from . import (
    attributes,
    contexts,
    errors,
    idp,
    inbound,
    keys,
    outbound,
    pending,
    providers,
    redirect_sig,
    spmeta,
)
from .models import Profile, SeenRequest, ServiceProvider

#: RelayState is at most 80 bytes (SAML Bindings §3.4.3); some services use a little more.
MAX_RELAY_STATE = 1024


@dataclass(frozen=True)
class Received:
    authn_request: inbound.AuthnRequest
    relay_state: str | None


def _server(sp: ServiceProvider, *, must_sign: bool) -> Server:
    return idp.server_for(
        sp_id=sp.pk,
        version=sp.updated_at.isoformat(),
        metadata_xml=sp.metadata_xml,
        must_sign=must_sign,
    )


def receive(request: HttpRequest, *, binding: str) -> Received:
    """Verify an AuthnRequest and keep it for this session; SamlError when it is unusable."""
    params = request.GET if binding == BINDING_HTTP_REDIRECT else request.POST
    raw = params.get("SAMLRequest")
    if not raw:
        raise errors.MalformedMessage("no SAMLRequest parameter")
    relay_state = params.get("RelayState")
    if relay_state is not None and len(relay_state) > MAX_RELAY_STATE:
        raise errors.TooLarge("RelayState is too long")
    limit = int(settings.SAML_MAX_MESSAGE_BYTES)
    envelope = inbound.envelope(inbound.decode(raw, binding=binding, limit=limit))
    sp = providers.usable().filter(entity_id=envelope.issuer).first()
    if sp is None:
        raise errors.UnknownService("no enabled service with this entity id", envelope.issuer)
    try:
        return _receive_for(request, sp, params, raw, binding, relay_state)
    except errors.SamlError as exc:
        exc.service = sp.entity_id
        raise


def _receive_for(
    request: HttpRequest,
    sp: ServiceProvider,
    params: QueryDict,
    raw: str,
    binding: str,
    relay_state: str | None,
) -> Received:
    try:
        facts = spmeta.facts(sp.metadata_xml)
    except spmeta.InvalidMetadata as exc:
        raise errors.UnknownService(f"the service's metadata is unusable: {exc}") from None
    # A request signature is checked where the service says it signs, where the admin demands
    # it, and whenever one is present (a forged one must not pass as "unsigned").
    must_sign = sp.require_signed_requests or facts.authn_requests_signed
    if binding == BINDING_HTTP_REDIRECT:
        check_redirect_signature(request, facts, required=must_sign)
        must_sign = False  # checked above, over the query as it arrived
    authn_request = inbound.verify(
        _server(sp, must_sign=must_sign),
        raw=raw,
        binding=binding,
        facts=facts,
        relay_state=relay_state,
        sigalg=None,
        signature=None,
    )
    now = clock.now()
    max_age = int(settings.SAML_REQUEST_MAX_AGE)
    inbound.check_fresh(authn_request, now=now, max_age=max_age)
    _reserve_once(
        authn_request.sp_entity_id,
        authn_request.request_id,
        expires_at=now + dt.timedelta(seconds=2 * max_age),
    )
    return Received(authn_request=authn_request, relay_state=relay_state)


def check_redirect_signature(request: HttpRequest, facts: spmeta.Facts, *, required: bool) -> None:
    """The HTTP-Redirect signature, when present or required (see :mod:`.redirect_sig`)."""
    if "Signature" in request.GET or required:
        redirect_sig.verify(
            query_string=request.META.get("QUERY_STRING", ""),
            certificates=facts.signing_certs,
        )


def _reserve_once(sp_entity_id: str, request_id: str, *, expires_at: dt.datetime) -> None:
    """Record the request id; a second request with it is a replay (unique constraint, so
    two parallel copies cannot both pass)."""
    SeenRequest.objects.filter(expires_at__lt=clock.now()).delete()
    try:
        with transaction.atomic():
            SeenRequest.objects.create(
                sp_entity_id=sp_entity_id, request_id=request_id, expires_at=expires_at
            )
    except IntegrityError:
        raise errors.Replayed("this AuthnRequest id was used before") from None


def keep(request: HttpRequest, received: Received) -> str:
    """Keep a verified request in this browser's session; its ticket."""
    return pending.put(
        request, received.authn_request, received.relay_state, now=clock.now().timestamp()
    )


_RESUME_SALT = "vahva.saml.resume"


def resume_url(received: Received) -> str:
    """A GET address carrying a POST-binding request, signed (HMAC with the secret key).

    The POST from the service's site is cross-site, so the browser leaves out vahva's
    SameSite=Lax session cookie; the request is handed to a top-level GET, which has it,
    instead of being stored in a new session that would sign the person out.
    """
    values = asdict(received.authn_request)
    values["issued_at"] = received.authn_request.issued_at.isoformat()
    token = signing.dumps(
        {"request": values, "relay_state": received.relay_state}, salt=_RESUME_SALT, compress=True
    )
    return f"{reverse('saml:resume')}?{urlencode({'state': token})}"


def resume(request: HttpRequest, token: str) -> Received:
    max_age = int(settings.SAML_REQUEST_MAX_AGE)
    try:
        raw = signing.loads(token, salt=_RESUME_SALT, max_age=max_age)
        values = dict(raw["request"])
        values["issued_at"] = dt.datetime.fromisoformat(values["issued_at"])
        values["requested_contexts"] = tuple(values["requested_contexts"])
        received = Received(
            authn_request=inbound.AuthnRequest(**values), relay_state=raw.get("relay_state")
        )
    except signing.SignatureExpired:
        raise errors.Expired("the resume address expired") from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        # A forged or edited address: only vahva can sign one.
        raise errors.MalformedMessage("the resume address is not one vahva made") from None
    # Single use: the address, once followed, cannot be replayed (from history, a log).
    _reserve_once(
        received.authn_request.sp_entity_id,
        f"resume:{received.authn_request.request_id}",
        expires_at=clock.now() + dt.timedelta(seconds=2 * max_age),
    )
    return received


def continue_url(ticket: str) -> str:
    return reverse("saml:continue", args=[ticket])


def answer(request: HttpRequest, ticket: str) -> HttpResponse:
    """Ask the door about a kept request and answer the service (or send the person on)."""
    now = clock.now()
    waiting = pending.get(
        request, ticket, now=now.timestamp(), max_age=int(settings.SAML_REQUEST_MAX_AGE)
    )
    if waiting is None:
        raise errors.Expired("no such request in this browser, or it expired")
    authn_request = waiting.request
    sp = providers.usable().filter(entity_id=authn_request.sp_entity_id).first()
    if sp is None:
        pending.drop(request, ticket)
        raise errors.UnknownService("the service was removed or disabled")
    server = _server(sp, must_sign=False)
    try:
        asked = contexts.parse(authn_request.requested_contexts, authn_request.comparison)
        if authn_request.name_id_format not in inbound.NAME_ID_FORMATS:
            raise errors.invalid_name_id_policy("only persistent and transient NameIDs")
    except contexts.NoAuthnContext as exc:
        return _fail(request, waiting, sp, server, errors.no_authn_context(str(exc)))
    except errors.StatusError as exc:
        return _fail(request, waiting, sp, server, exc)
    requirement = Requirement(
        service=sp.name,
        rule=ServiceRule(sp.mfa_rule),
        next_url=continue_url(ticket),
        return_to=authn_request.acs_url,
        mfa=asked.mfa,
        phishing_resistant=False,
        max_age=None,
        fresh=authn_request.force_authn,
        passive=authn_request.is_passive,
    )
    step = requirements.step_for(request, requirement)
    if step.issue and step.authentication is not None:
        return _issue(request, waiting, sp, server, asked, step.authentication)
    if step.outcome in (Outcome.SIGN_IN, Outcome.REGISTER):
        return redirect(step.url)
    if step.outcome in (Outcome.LOGIN_REQUIRED, Outcome.INTERACTION_REQUIRED):
        return _fail(request, waiting, sp, server, errors.no_passive(str(step.outcome)))
    pending.drop(request, ticket)
    return cannot_continue(
        request, step, requirement, action="saml.refused", entity_id=sp.entity_id
    )


def subject_for(user: object, sp: ServiceProvider) -> outbound.Subject:
    """The persistent NameID and the released attributes of ``user`` at ``sp``."""
    person = attributes.Person(
        email=str(getattr(user, "email", "")),
        full_name=str(getattr(user, "full_name", "")),
        stable_id=str(getattr(user, "public_id", "")),
    )
    secret = keys.pairwise_secret(idp.key_dir())
    if sp.profile == Profile.MICROSOFT365:
        # Entra federation: the ImmutableID as NameID, the UPN (e-mail) as IDPEmail.
        return outbound.Subject(
            persistent_id=outbound.immutable_id(getattr(user, "public_id")),  # noqa: B009
            attributes={"IDPEmail": [person.email]},
        )
    scope = attributes.scope_of(person, str(settings.SAML_SCOPE))
    values = attributes.everything(
        person,
        secret=secret,
        sp_entity_id=sp.entity_id,
        scope=scope,
        affiliation=str(settings.SAML_AFFILIATION),
        home_organization=str(settings.SAML_HOME_ORGANIZATION),
    )
    facts = spmeta.facts(sp.metadata_xml)
    return outbound.Subject(
        persistent_id=attributes.persistent_name_id(
            secret=secret, sp_entity_id=sp.entity_id, stable_id=person.stable_id
        ),
        attributes=attributes.released(
            values,
            allowed=list(sp.release or []),
            requested=facts.requested,
            # Only a federation's signed aggregate vouches for a category: a service added by
            # hand could claim R&S in its own metadata to receive more than its list allows.
            categories=facts.entity_categories if sp.federation_id else (),
        ),
    )


def _issue(
    request: HttpRequest,
    waiting: pending.Pending,
    sp: ServiceProvider,
    server: Server,
    asked: contexts.Asked,
    auth: Authentication,
) -> HttpResponse:
    authn_request = waiting.request
    try:
        class_ref = contexts.answer(
            asked,
            multi_factor=auth.multi_factor,
            native=outbound.NATIVE_CLASSES[Profile(sp.profile)],
        )
    except contexts.NoAuthnContext as exc:
        return _fail(request, waiting, sp, server, errors.no_authn_context(str(exc)))
    subject = subject_for(request.user, sp)
    saml_response = outbound.success(
        server,
        request=authn_request,
        subject=subject,
        class_ref=class_ref,
        authn_instant=int(auth.at.timestamp()),
        # Entra's federation takes signed, not encrypted, assertions (docs/saml.md).
        encrypt=spmeta.facts(sp.metadata_xml).has_encryption_key
        and sp.profile != Profile.MICROSOFT365,
    )
    pending.drop(request, waiting.ticket)
    record(
        "saml.sso",
        subject=request.user,
        actor=request.user,
        request=request,
        service=sp.entity_id,
        acr=class_ref,
        released=sorted(subject.attributes),
    )
    return _post(request, sp, authn_request.acs_url, saml_response, waiting.relay_state)


def _fail(
    request: HttpRequest,
    waiting: pending.Pending,
    sp: ServiceProvider,
    server: Server,
    error: errors.StatusError,
) -> HttpResponse:
    """Tell the service why there is no assertion, with a signed error Response."""
    pending.drop(request, waiting.ticket)
    user = request.user if request.user.is_authenticated else None
    record(
        "saml.refused",
        subject=user,
        actor=user,
        request=request,
        outcome="failure",
        reason=f"{error.second_level.rpartition(':')[2]}: {error.message}",
        service=sp.entity_id,
    )
    saml_response = outbound.failure(server, request=waiting.request, error=error)
    return _post(request, sp, waiting.request.acs_url, saml_response, waiting.relay_state)


def _post(
    request: HttpRequest,
    sp: ServiceProvider,
    acs_url: str,
    saml_response: str,
    relay_state: str | None,
) -> HttpResponse:
    # The ACS comes from the service's metadata: the only place this form may post to.
    allow_form_target(request, acs_url)
    return render(
        request,
        "saml/post.html",
        {
            "service": sp.name,
            "acs_url": acs_url,
            "saml_response": saml_response,
            "relay_state": relay_state or "",
        },
    )


def refused(request: HttpRequest, error: errors.SamlError) -> HttpResponse:
    """vahva's own error page for a request that cannot be answered, with an audit row."""
    user = request.user if request.user.is_authenticated else None
    record(
        "saml.refused",
        subject=user,
        actor=user,
        request=request,
        outcome="failure",
        reason=f"{type(error).__name__}: {error.reason}",
        service=error.service[:1024],
    )
    return render(
        request,
        "web/error.html",
        {"title": error.title, "message": error.message},
        status=error.status,
    )
