from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from vahva.authenticator import events as device_events
from vahva.conf import settings
from vahva.web import views as web

admin.site.site_header = format_lazy(
    _("{org}: vahva administration"), org=settings.ORGANISATION_NAME
)
admin.site.site_title = "vahva"
admin.site.index_title = _("Sign-in service")

urlpatterns = [
    path("", web.home, name="home"),
    # Pages that name no icon (the admin site's): browsers ask for /favicon.ico.
    path("favicon.ico", RedirectView.as_view(url=static("vahva/icon.svg"), permanent=True)),
    path("help/", web.help_page, name="help"),
    path("help/", include("vahva.feedback.urls")),
    path("helpdesk/", include("vahva.helpdesk.urls")),
    path("helpdesk/", include("vahva.insights.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # MFA bypass: Django's own admin login would accept a password alone. Every admin sign-in
    # goes through vahva's sign-in (and its second factor) instead.
    path("admin/login/", web.admin_login),
    path("admin/", admin.site.urls),
    path("o/", include("vahva.oidc.urls")),
    path("saml/", include("vahva.saml.urls")),
    path("", include("vahva.signin.urls")),
    path("", include("vahva.registration.urls")),
    path("", include("vahva.sessions.urls")),
    # Before the device API's own routes: a plain view whose stream is carried on outside
    # Django (vahva.waits), which django-ninja's operations are not.
    path("api/device/v1/events", device_events.device_events, name="device_events"),
    path("", include("vahva.authenticator.urls")),
    # The validation API for RADIUS/VPN gateways and scripts (/api/validate/v1/).
    path("", include("vahva.validate.urls")),
    # SCIM 2.0 provisioning from the organisation's identity system (/scim/v2/).
    path("", include("vahva.scim.urls")),
    # Prometheus (/metrics): 404 unless VAHVA["METRICS_ENABLED"], then only with the token.
    path("", include("vahva.metrics.urls")),
    # The dev phone (only with the dev gateway in development) and the gateways' webhooks.
    path("", include("vahva.gateways.urls")),
]

handler400 = "vahva.web.views.bad_request"
handler403 = "vahva.web.views.permission_denied"
handler404 = "vahva.web.views.not_found"
handler500 = "vahva.web.views.server_error"
