"""The OpenID Provider's pages: authorize (handing over to vahva's sign-in), discovery, logout.

django-oauth-toolkit validates the OAuth request; vahva decides whether the browser's sign-in
is good enough for it (prompt, max_age, acr_values and the service's MFA rule) and, if not,
sends the person through :mod:`vahva.signin` and back.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from oauth2_provider.exceptions import InvalidOIDCRedirectURIError, OAuthToolkitError
from oauth2_provider.forms import AllowForm
from oauth2_provider.models import get_application_model
from oauth2_provider.views import AuthorizationView, ConnectDiscoveryInfoView, RPInitiatedLogoutView
from oauthlib.common import add_params_to_uri
from oauthlib.oauth2 import AccessDeniedError

from vahva.audit.log import record
from vahva.sessions import service as browser_sessions
from vahva.signin import requirements
from vahva.signin.requirements import Outcome
from vahva.signin.responses import cannot_continue
from vahva.web.middleware import allow_form_target

from . import claims, consent
from .models import Service
from .validator import well_formed_uri

if TYPE_CHECKING:
    from vahva.accounts.models import User

Application = get_application_model()


def service_of(application: Any) -> Service:
    service, _created = Service.objects.get_or_create(application=application)
    return service


class AuthorizeView(AuthorizationView):  # type: ignore[misc]
    """The authorization endpoint (OIDC Core §3.1.2).

    Both ways a code can be issued pass the door (:func:`vahva.signin.requirements.step_for`):
    the GET, and the POST of the consent form, which must answer a consent page this session
    was shown (:mod:`.consent`). :meth:`create_authorization_response` refuses to issue a code
    in a request the door has not let through.
    """

    template_name = "oauth2_provider/authorize.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Skip the toolkit's LoginRequiredMixin: the request is validated first (an unknown
        # client gets an error page, not a sign-in form), then the door decides about sign-in.
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
        locale = ui_locale(request)
        if locale is not None:
            # The pages of this request (a consent page, an error) in the service's language.
            translation.activate(locale)
            request.LANGUAGE_CODE = locale
        refused = self._through_the_door(request, application, request.get_full_path(), credentials)
        if refused is not None:
            return remember_ui_locale(refused, locale)
        # Let the toolkit issue the code, or show the consent page (third-party services),
        # which posts back here.
        allow_form_target(request, credentials["redirect_uri"])
        query = request.GET.copy()
        query.pop("prompt", None)
        request.GET = query  # type: ignore[assignment]
        return super().get(request, *args, **kwargs)  # type: ignore[no-any-return]

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        form = context.get("form")
        if form is not None and not context.get("error"):
            # The consent page is shown: only this very form may be answered (see .consent).
            consent.issue(self.request, form.initial)
        return super().render_to_response(context, **kwargs)  # type: ignore[no-any-return]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """The answer to a consent page; nothing else may post here."""
        form = AllowForm(request.POST)
        ticket = consent.take(request, form.data) if form.is_valid() else None
        if ticket is None:
            # MFA bypass: a consent form this session was not shown (a service that shows
            # none, changed fields, a replayed answer) would let the toolkit issue a code
            # without the checks of the GET.
            user = request.user if request.user.is_authenticated else None
            record(
                "oidc.refused",
                subject=user,
                actor=user,
                request=request,
                outcome="failure",
                reason="a consent form was posted that this browser was not shown",
                service=str(request.POST.get("client_id", ""))[:100],
            )
            return render(
                request,
                "web/error.html",
                {
                    "title": _("This form has expired"),
                    "message": _("Go back to the service and sign in again."),
                },
                status=400,
            )
        application = Application.objects.filter(client_id=form.cleaned_data["client_id"]).first()
        if application is None:
            return render(
                request,
                "web/error.html",
                {"title": _("Unknown service"), "message": _("Go back to the service.")},
                status=400,
            )
        credentials = {
            "redirect_uri": form.cleaned_data["redirect_uri"],
            "state": form.cleaned_data.get("state"),
        }
        refused = self._through_the_door(request, application, ticket.next_url, credentials)
        if refused is not None:
            return refused
        return super().post(request, *args, **kwargs)  # type: ignore[no-any-return]

    def _through_the_door(
        self, request: HttpRequest, application: Any, next_url: str, credentials: dict[str, Any]
    ) -> HttpResponse | None:
        """Ask the door about this authorization request; None when a code may be issued."""
        redirect_uri = str(credentials["redirect_uri"])
        state = credentials.get("state")
        query = QueryDict(urlsplit(next_url).query)
        try:
            requirement = requirement_of(application, query, next_url, redirect_uri)
        except claims.BadRequest as exc:
            return self._to_client(redirect_uri, application, "invalid_request", str(exc), state)
        step = requirements.step_for(request, requirement)
        # Read by create_authorization_response: a code only in a request the door let through.
        request.vahva_step = step  # type: ignore[attr-defined]
        request.vahva_acr_values = query.get("acr_values", "")  # type: ignore[attr-defined]
        if step.issue:
            return None
        if step.outcome in (Outcome.SIGN_IN, Outcome.REGISTER):
            return redirect(step.url)
        if step.outcome in (Outcome.LOGIN_REQUIRED, Outcome.INTERACTION_REQUIRED):
            return self._to_client(
                redirect_uri,
                application,
                str(step.outcome),
                "The person must sign in."
                if step.outcome == Outcome.LOGIN_REQUIRED
                else "The person must register a sign-in method first.",
                state,
            )
        return cannot_continue(request, step, requirement, action="oidc.refused")

    def create_authorization_response(
        self, request: HttpRequest, scopes: str, credentials: dict[str, Any], allow: bool
    ) -> Any:
        step: requirements.Step | None = getattr(request, "vahva_step", None)
        if step is None or not step.issue or step.authentication is None:
            # Defence in depth: whatever path reached the toolkit, no code without the door.
            raise OAuthToolkitError(error=_access_denied(credentials))
        signed_in = step.authentication
        application = Application.objects.filter(client_id=credentials.get("client_id")).first()
        requested = str(getattr(request, "vahva_acr_values", ""))
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


#: The most ``ui_locales`` tags looked at: the parameter is the service's (and its attacker's)
#: to fill, and a first few cover every real preference list.
UI_LOCALES_LOOKED_AT = 10


def ui_locale(request: HttpRequest) -> str | None:
    """The first of the request's ``ui_locales`` (OIDC Core §3.1.2.1: space-separated BCP 47
    tags, in order of preference) that vahva speaks, or None: none given, none spoken (no
    error, as the specification asks) or the person already chose a language on vahva's pages,
    which wins over the service's guess."""
    if settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
        return None
    for tag in request.GET.get("ui_locales", "").split()[:UI_LOCALES_LOOKED_AT]:
        try:
            # "fi-FI" is Finnish, "sv-SE" Swedish; a malformed or unknown tag is skipped.
            return str(translation.get_supported_language_variant(tag.lower()[:35]))
        except LookupError:
            continue
    return None


def remember_ui_locale(response: HttpResponse, locale: str | None) -> HttpResponse:
    """``response`` (the way to the sign-in pages) with ``locale`` as the browser's language
    on vahva's pages, as the language switch in the header sets it."""
    if locale is not None:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            locale,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=cast("Literal['Lax', 'Strict', 'None']", settings.LANGUAGE_COOKIE_SAMESITE),
        )
    return response


def requirement_of(
    application: Any, query: QueryDict, next_url: str, redirect_uri: str
) -> requirements.Requirement:
    """What an authorization request asks of the sign-in: its prompt, max_age and acr_values,
    and the service's own MFA rule."""
    prompt = claims.parse_prompt(query.get("prompt"))
    max_age = claims.parse_max_age(query.get("max_age"))
    acr_values = query.get("acr_values", "")
    return requirements.Requirement(
        service=str(application.name),
        rule=requirements.ServiceRule(service_of(application).mfa_rule),
        next_url=next_url,
        return_to=redirect_uri,
        mfa=claims.wants_mfa(acr_values),
        phishing_resistant=claims.wants_phishing_resistant(acr_values),
        max_age=max_age,
        fresh="login" in prompt,
        passive="none" in prompt,
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
        data["ui_locales_supported"] = [code for code, _name in settings.LANGUAGES]
        # Only what is used: every service's ID tokens are signed with the RSA key (clients.py
        # and the admin set RS256); advertising HS256 would invite a client to verify with
        # its own secret, a key the client holds too.
        data["id_token_signing_alg_values_supported"] = ["RS256"]
        data["code_challenge_methods_supported"] = ["S256"]
        data["claims_parameter_supported"] = False
        data["request_parameter_supported"] = False
        result = JsonResponse(data)
        result["Access-Control-Allow-Origin"] = "*"
        return result


class LogoutView(RPInitiatedLogoutView):  # type: ignore[misc]
    """RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): signs out of vahva too."""

    template_name = "oauth2_provider/logout_confirm.html"

    def validate_post_logout_redirect_uri(
        self, application: Any, post_logout_redirect_uri: str | None
    ) -> None:
        # A malformed URI (a port out of range) is not one of the service's: refused like any
        # other unregistered one (400), instead of a 500 from the toolkit's comparison.
        if post_logout_redirect_uri and not well_formed_uri(post_logout_redirect_uri):
            raise InvalidOIDCRedirectURIError("The redirect URI is malformed.")
        super().validate_post_logout_redirect_uri(application, post_logout_redirect_uri)

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
        token_user: User | None = None,
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
