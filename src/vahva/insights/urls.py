from django.urls import path

from . import views

app_name = "insights"
urlpatterns = [
    path("sign-ins/", views.signins, name="signins"),
    path("sign-ins/export.csv", views.signins_export, name="signins_export"),
    path("adoption/", views.adoption, name="adoption"),
]
