from django.urls import path

from . import views, webhooks

app_name = "gateways"
urlpatterns = [
    path("dev/phone/", views.phones, name="dev_phones"),
    path("dev/phone/<str:number>/", views.phone, name="dev_phone"),
    path("dev/phone/<str:number>/call/<str:call_id>/", views.act, name="dev_phone_act"),
    path("gateways/twilio/status/<str:call_id>", webhooks.status, name="twilio_status"),
    path("gateways/twilio/gather/<str:call_id>", webhooks.gather, name="twilio_gather"),
]
