from django.urls import path

from . import views
from .api import api

# No app namespace: the device API's own ("device-api") must be top-level for django-ninja to
# find its root when it builds the OpenAPI document.
urlpatterns = [
    path("api/device/v1/", api.urls),
    # The installable vahva app; its service worker's scope is /app/.
    path("app/", views.app_page, name="authenticator_app"),
    # No trailing slash: the QR link is exactly <PUBLIC_URL>/app/enroll#<code>.
    path("app/enroll", views.enroll_page, name="authenticator_enroll"),
    path("app/manifest.webmanifest", views.manifest, name="authenticator_manifest"),
    path("app/sw.js", views.service_worker, name="authenticator_sw"),
    path(
        "app/enrol/<uuid:enrolment>/status/",
        views.enrol_status,
        name="authenticator_enrol_status",
    ),
]
