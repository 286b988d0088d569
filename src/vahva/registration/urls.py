from django.urls import path
from django.views.generic import RedirectView

from . import password_views, security_info, views

app_name = "registration"
urlpatterns = [
    path("setup/", RedirectView.as_view(pattern_name="registration:setup", query_string=True)),
    path("setup", RedirectView.as_view(pattern_name="registration:setup", query_string=True)),
    path("security-info/", security_info.security_info, name="security_info"),
    path("security-info/setup/", views.setup, name="setup"),
    path("security-info/setup/start/", views.start, name="start"),
    path("security-info/setup/done/", views.done, name="done"),
    path("security-info/setup/skip/", views.skip, name="skip"),
    path("security-info/setup/choose/", views.choose, {"in_wizard": True}, name="setup_choose"),
    path("security-info/setup/<slug:kind>/", views.enrol, {"in_wizard": True}, name="setup_enrol"),
    path("security-info/setup/<slug:kind>/status/", views.enrol_status, name="setup_enrol_status"),
    path("security-info/add/", views.choose, name="choose"),
    path("security-info/add/<slug:kind>/", views.enrol, name="enrol"),
    path("security-info/add/<slug:kind>/status/", views.enrol_status, name="enrol_status"),
    path("security-info/default/", security_info.set_default, name="default"),
    path("security-info/remove/<int:method_id>/", security_info.remove, name="remove"),
    path(
        "security-info/remembered/forget/",
        security_info.forget_remembered,
        name="forget_all_remembered",
    ),
    path(
        "security-info/remembered/<int:device_id>/forget/",
        security_info.forget_remembered,
        name="forget_remembered",
    ),
    path("security-info/password/", password_views.change, name="password_change"),
    path("security-info/password/changed/", password_views.changed, name="password_changed"),
    path(
        "security-info/password/sign-out-others/",
        password_views.sign_out_others,
        name="sign_out_others",
    ),
    path("password/forgot/", password_views.forgot, name="password_forgot"),
    path("password/forgot/sent/", password_views.forgot_sent, name="password_forgot_sent"),
    path(
        "password/reset/finished/",
        password_views.reset_finished,
        name="password_reset_finished",
    ),
    path("password/reset/", password_views.reset, name="password_reset"),
    path("password/reset/<str:token>/", password_views.reset_link, name="password_reset_link"),
    path(
        "security-info/methods/<int:method_id>/<slug:action>/",
        security_info.method_change,
        name="method_change",
    ),
]
