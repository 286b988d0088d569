from django.urls import path

from . import confirm, views, waiting

app_name = "signin"
urlpatterns = [
    path("signin/", views.password, name="password"),
    path("signin/verify/", views.verify, name="verify"),
    path("signin/verify/status/", waiting.verify_status, name="verify_status"),
    path("signin/verify/events/", waiting.verify_events, name="verify_events"),
    path("signin/other/", views.other, name="other"),
    path("signin/passkey/", views.passkey, name="passkey"),
    path("signin/passkey/options/", views.passkey_options, name="passkey_options"),
    path("signin/confirm/", confirm.confirm, name="confirm"),
    path("signout/", views.signout, name="signout"),
]
