from django.urls import path

from . import views

urlpatterns = [
    # Prometheus's default scrape path (metrics_path: /metrics).
    path("metrics", views.metrics, name="metrics"),
]
