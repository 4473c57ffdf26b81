from django.urls import path

from pgap.api.figures import PgapFiguresView

urlpatterns = [path("pgap/figures", PgapFiguresView.as_view(), name="api-pgap-figures")]
