from django.urls import path

from pgap.api import views

urlpatterns = [
    path("npstoday/responses", views.NpsTodayResponseView.as_view()),
    path(
        "npstoday/responses/<str:secret>",
        views.NpsTodayResponseView.as_view(),
        name="npstoday-responses",
    ),
]
