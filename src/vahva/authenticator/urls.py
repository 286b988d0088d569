from django.urls import path

from . import views
from .api import api

# No app namespace: the device API's own ("device-api") must be top-level for django-ninja to
# find its root when it builds the OpenAPI document.
urlpatterns = [
    path("api/device/v1/", api.urls),
    # No trailing slash: the QR link is exactly <PUBLIC_URL>/app/enroll#<code>.
    path("app/enroll", views.enroll_page, name="authenticator_enroll"),
    path(
        "app/enrol/<uuid:enrolment>/status/",
        views.enrol_status,
        name="authenticator_enrol_status",
    ),
]
