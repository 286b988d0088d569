from django.urls import path

from .api import api

# No app namespace: the API's own ("validate-api") must be top-level for django-ninja to find
# its root when it builds the OpenAPI document.
urlpatterns = [
    path("api/validate/v1/", api.urls),
]
