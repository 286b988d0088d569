"""The OpenID Provider's pages: authorize (handing over to vahva's sign-in), discovery, logout.

django-oauth-toolkit validates the OAuth request; vahva decides whether the browser's sign-in
is good enough for it (prompt, max_age, acr_values and the service's MFA rule) and, if not,
sends the person through :mod:`vahva.signin` and back.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import get_application_model
from oauth2_provider.views import AuthorizationView, ConnectDiscoveryInfoView, RPInitiatedLogoutView
from oauthlib.common import add_params_to_uri
from oauthlib.oauth2 import AccessDeniedError

from vahva import clock
from vahva.audit.log import record
from vahva.methods import service as methods
from vahva.sessions import service as browser_sessions
from vahva.signin import engine
from vahva.web.middleware import allow_form_target

from . import claims
from .claims import Step
from .models import Service

Application = get_application_model()


def service_of(application: Any) -> Service:
    service, _created = Service.objects.get_or_create(application=application)
    return service


class AuthorizeView(AuthorizationView):  # type: ignore[misc]
    """The authorization endpoint (OIDC Core §3.1.2)."""

    template_name = "oauth2_provider/authorize.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Skip the toolkit's LoginRequiredMixin: the request is validated first (an unknown
        # client gets an error page, not a sign-in form), then vahva decides about sign-in.
        self.oauth2_data: dict[str, Any] = {}
        if request.method == "GET":
            return self.get(request, *args, **kwargs)
        if request.method == "POST":
            return self.post(request, *args, **kwargs)
        response: HttpResponse = self.http_method_not_allowed(request, *args, **kwargs)
        return response

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            _scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            failed: HttpResponse = self.error_response(error, application=None)
            return failed
        application = Application.objects.get(client_id=credentials["client_id"])
        redirect_uri = credentials["redirect_uri"]
        state = credentials.get("state")
        try:
            prompt = claims.parse_prompt(request.GET.get("prompt"))
            max_age = claims.parse_max_age(request.GET.get("max_age"))
        except claims.BadRequest as exc:
            return self._to_client(redirect_uri, application, "invalid_request", str(exc), state)
        service = service_of(application)
        user = request.user if request.user.is_authenticated else None
        acr_values = request.GET.get("acr_values", "")
        # The service's rule, or its acr_values=phr: only a security key or passkey will do.
        phishing_resistant = service.mfa_rule == "phishing_resistant" or (
            claims.wants_phishing_resistant(acr_values)
        )
        requirement = engine.Requirement(
            next_url=request.get_full_path(),
            service=str(application.name),
            service_rule="phishing_resistant" if phishing_resistant else service.mfa_rule,
            force_mfa=claims.wants_mfa(acr_values),
            return_to=redirect_uri,
        )
        earlier = engine.pending(request, requirement.next_url)
        signed_in = engine.authentication(request)
        ask = claims.Ask(
            prompt=prompt,
            max_age=max_age,
            mfa=user is not None
            and (
                requirement.force_mfa or engine.decision_for(request, user, requirement).require_mfa
            ),
            has_methods=user is not None and methods.has_methods(user),
            requested_at=earlier.at if earlier else None,
            rounds=earlier.round if earlier else 0,
            phishing_resistant=phishing_resistant,
            has_phishing_resistant=user is not None and methods.has_phishing_resistant(user),
        )
        session = (
            claims.Session(
                at=signed_in.at,
                multi_factor=signed_in.multi_factor,
                phishing_resistant=signed_in.phishing_resistant,
            )
            if signed_in
            else None
        )
        step = claims.next_step(session, ask, now=clock.now())
        if step == Step.SIGN_IN:
            fresh = engine.Requirement(**{**requirement.__dict__, "fresh": session is not None})
            return redirect(engine.request_sign_in(request, fresh))
        if step == Step.LOGIN_REQUIRED:
            return self._to_client(
                redirect_uri, application, "login_required", "The person must sign in.", state
            )
        if step in (Step.NEED_METHOD, Step.NEED_PASSKEY, Step.REFUSE):
            if step == Step.REFUSE and phishing_resistant:
                record(
                    "oidc.refused",
                    subject=user,
                    actor=user,
                    request=request,
                    outcome="failure",
                    reason="the sign-in was not phishing-resistant (no security key or passkey)",
                    service=str(application.name),
                )
            return self._cannot_continue(request, application, step)
        # Satisfied: let the toolkit issue the code; it must not redirect to sign in again.
        # The consent form (third-party services) posts here and is redirected to the service.
        allow_form_target(request, redirect_uri)
        query = request.GET.copy()
        query.pop("prompt", None)
        request.GET = query  # type: ignore[assignment]
        return super().get(request, *args, **kwargs)  # type: ignore[no-any-return]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The consent form of a third-party service; only a signed-in person can answer it.
        if not request.user.is_authenticated:
            return redirect("signin:password")
        return super().post(request, *args, **kwargs)  # type: ignore[no-any-return]

    def create_authorization_response(
        self, request: HttpRequest, scopes: str, credentials: dict[str, Any], allow: bool
    ) -> Any:
        signed_in = engine.authentication(request)
        if signed_in is None:
            # Consent posted from a session that has since signed out.
            raise OAuthToolkitError(error=_access_denied(credentials))
        application = Application.objects.filter(client_id=credentials.get("client_id")).first()
        requested = request.GET.get("acr_values", "")
        if application is not None and service_of(application).mfa_rule == "phishing_resistant":
            # The service accepts only a phishing-resistant sign-in: the token says it was one.
            requested = requested or claims.ACR_PHR
        credentials["vahva_auth"] = {
            "auth_time": signed_in.at,
            "amr": list(signed_in.amr),
            "acr": claims.acr_for(
                signed_in.amr,
                phishing_resistant=signed_in.phishing_resistant,
                requested=requested,
            ),
            # Which browser session the tokens come from (signing it out revokes them).
            "session": browser_sessions.digest_of(request),
        }
        if allow:
            record(
                "oidc.authorize",
                subject=request.user,
                actor=request.user,
                request=request,
                service=credentials.get("client_id", ""),
                acr=credentials["vahva_auth"]["acr"],
            )
        return super().create_authorization_response(request, scopes, credentials, allow)

    def _to_client(
        self, redirect_uri: str, application: Any, error: str, description: str, state: Any
    ) -> HttpResponse:
        """An error sent back to the (already validated) redirect URI, OIDC Core §3.1.2.6."""
        params = [("error", error), ("error_description", description)]
        if state:
            params.append(("state", str(state)))
        return self.redirect(add_params_to_uri(redirect_uri, params), application)  # type: ignore[no-any-return]

    def _cannot_continue(self, request: HttpRequest, application: Any, step: Step) -> HttpResponse:
        setup = f"{reverse('registration:setup')}?{urlencode({'next': request.get_full_path()})}"
        if step == Step.NEED_METHOD:
            message = _(
                "%(service)s asks for a second sign-in step, and you have no sign-in method "
                "yet. Set one up, then you can continue."
            ) % {"service": application.name}
        elif step == Step.NEED_PASSKEY:
            message = _(
                "%(service)s accepts only a security key or passkey, and you have not added "
                "one. Add one, then you can continue."
            ) % {"service": application.name}
            add = reverse("registration:enrol", kwargs={"kind": "webauthn"})
            setup = f"{add}?{urlencode({'next': request.get_full_path()})}"
        else:
            message = _(
                "%(service)s asks for a second sign-in step that your sign-in did not include. "
                "Sign in again with one of your methods, or contact the helpdesk."
            ) % {"service": application.name}
        return render(
            request,
            "oidc/cannot_continue.html",
            {"message": message, "setup_url": setup, "service": application.name},
            status=403,
        )


def _access_denied(credentials: dict[str, Any]) -> Any:
    return AccessDeniedError(state=credentials.get("state"))


class DiscoveryView(ConnectDiscoveryInfoView):  # type: ignore[misc]
    """The discovery document, with what vahva adds: acr values, amr and auth_time claims."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data["acr_values_supported"] = [claims.ACR_MFA, claims.ACR_SFA, claims.ACR_PHR]
        data["claims_supported"] = sorted(
            {
                *data.get("claims_supported", []),
                *("sub", "name", "email", "email_verified"),
                *("acr", "amr", "auth_time", "iss", "aud", "exp", "iat", "nonce"),
            }
        )
        data["grant_types_supported"] = ["authorization_code", "refresh_token"]
        data["response_modes_supported"] = ["query"]
        data["claims_parameter_supported"] = False
        data["request_parameter_supported"] = False
        result = JsonResponse(data)
        result["Access-Control-Allow-Origin"] = "*"
        return result


class LogoutView(RPInitiatedLogoutView):  # type: ignore[misc]
    """RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): signs out of vahva too."""

    template_name = "oauth2_provider/logout_confirm.html"

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        target = self.oidc_data.get("post_logout_redirect_uri")
        if target and "error" not in context:
            # Validated against the service's registration before the question is asked.
            allow_form_target(self.request, target)
        return super().render_to_response(context, **kwargs)  # type: ignore[no-any-return]

    def do_logout(
        self,
        application: Any = None,
        post_logout_redirect_uri: str | None = None,
        state: str | None = None,
        token_user: Any = None,
    ) -> HttpResponse:
        person = self.request.user if self.request.user.is_authenticated else token_user
        if person is not None:
            record(
                "signout",
                subject=person,
                actor=person,
                request=self.request,
                service=str(application.name) if application else "",
            )
        response = super().do_logout(application, post_logout_redirect_uri, state, token_user)
        if not post_logout_redirect_uri:
            logout(self.request)
            return render(self.request, "signin/signed_out.html")
        return response  # type: ignore[no-any-return]
