from django.urls import path

from pgap.api import card, views

urlpatterns = [
    path("dixa/card", card.DixaCardView.as_view(), name="dixa-card"),
    path("npstoday/responses", views.NpsTodayResponseView.as_view()),
    path(
        "npstoday/responses/<str:secret>",
        views.NpsTodayResponseView.as_view(),
        name="npstoday-responses",
    ),
]
