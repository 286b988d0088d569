from django.urls import path

from . import views

app_name = "saml"

urlpatterns = [
    path("metadata", views.metadata, name="metadata"),
    path("sso", views.sso, name="sso"),
    path("slo", views.slo, name="slo"),
    path("sso/resume", views.resume, name="resume"),
    path("sso/continue/<str:ticket>", views.continue_sso, name="continue"),
]
