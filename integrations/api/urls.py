from django.urls import path

from integrations.api import views

urlpatterns = [
    path("dixa/relay", views.dixa_relay, name="dixa-relay"),
]
