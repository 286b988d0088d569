from django.urls import path

from . import views

app_name = "sessions"
urlpatterns = [
    path(
        "security-info/sessions/<int:session_id>/sign-out/",
        views.sign_out,
        name="sign_out",
    ),
    path("security-info/sessions/sign-out/", views.sign_out_others, name="sign_out_others"),
]
