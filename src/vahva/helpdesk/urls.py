from django.urls import path

from . import caller_views, changes, views

app_name = "helpdesk"
urlpatterns = [
    path("", views.index, name="index"),
    path("people/<int:person_id>/", views.person, name="person"),
    path("people/<int:person_id>/check/", views.check, name="check"),
    path("people/<int:person_id>/check/<uuid:check_id>/", views.check_page, name="check_page"),
    path(
        "people/<int:person_id>/check/<uuid:check_id>/status/",
        views.check_status,
        name="check_status",
    ),
    path("people/<int:person_id>/callers/", caller_views.start, name="caller_start"),
    path(
        "people/<int:person_id>/callers/procedure/",
        caller_views.procedure,
        name="caller_procedure",
    ),
    path(
        "people/<int:person_id>/callers/<uuid:check_id>/",
        caller_views.page,
        name="caller_page",
    ),
    path(
        "people/<int:person_id>/callers/<uuid:check_id>/code/",
        caller_views.code,
        name="caller_code",
    ),
    path("people/<int:person_id>/pass/", views.issue_pass, name="issue_pass"),
    path("people/<int:person_id>/pass/shown/", views.pass_shown, name="pass_shown"),
    path("people/<int:person_id>/pass/revoke/", views.revoke_pass, name="revoke_pass"),
    path(
        "people/<int:person_id>/methods/<int:method_id>/remove/",
        changes.remove_method,
        name="remove_method",
    ),
    path(
        "people/<int:person_id>/devices/<uuid:device_id>/remove/",
        changes.remove_device,
        name="remove_device",
    ),
    path("people/<int:person_id>/exemptions/", changes.grant_exemption, name="grant_exemption"),
    path(
        "people/<int:person_id>/exemptions/<int:exemption_id>/revoke/",
        changes.revoke_exemption,
        name="revoke_exemption",
    ),
    path(
        "people/<int:person_id>/methods/<slug:kind>/<slug:action>/",
        changes.method_action,
        name="method_action",
    ),
    path("people/<int:person_id>/sign-out/", changes.sign_out, name="sign_out"),
    path("people/<int:person_id>/unlock/", changes.unlock, name="unlock"),
]
