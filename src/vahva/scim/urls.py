from django.urls import path, re_path

from . import views

urlpatterns = [
    path("scim/v2", views.endpoint, name="scim"),
    re_path(r"^scim/v2/(?P<path>.*)$", views.endpoint, name="scim"),
]
