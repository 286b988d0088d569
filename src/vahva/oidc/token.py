"""The token endpoint: django-oauth-toolkit's, without a look-up nobody uses."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import views as toolkit
from oauth2_provider.signals import app_authorized


class TokenView(toolkit.TokenView):  # type: ignore[misc]
    """After issuing tokens the toolkit reads the new access token back from the database only
    to send ``app_authorized`` with it. Nothing in vahva listens to that signal, so the read is
    skipped while no receiver is connected (and made, as the toolkit does, once one is)."""

    @method_decorator(sensitive_post_parameters("password", "client_secret"))
    def authorization_flow_token_response(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        if app_authorized.has_listeners():
            response: HttpResponse = super().authorization_flow_token_response(
                request, *args, **kwargs
            )
            return response
        _url, headers, body, status = self.create_token_response(request)
        response = HttpResponse(content=body, status=status)
        # An error raised while the tokens are saved (a grant refused mid-rotation) comes back
        # without oauthlib's default headers: still JSON, never cached (RFC 6749 §5.1, §5.2).
        response["Content-Type"] = "application/json"
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        for name, value in headers.items():
            response[name] = value
        return response
