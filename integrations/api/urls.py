from django.urls import path

from integrations.api import views

urlpatterns = [
    path("dixa/relay", views.DixaRelayView.as_view(), name="dixa-relay"),
]
