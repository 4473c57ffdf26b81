"""/api/v1/: the management API (docs/api.md), each app's part from its own `api/`. Any
other path under it is a JSON 404, as the API's own 404s are."""

from django.urls import include, path, re_path

from integrations.api.manage.views import NotFoundView

urlpatterns = [
    path("", include("integrations.api.manage.urls")),
    path("", include("ivr.api.urls")),
    path("", include("pgap.api.manage_urls")),
    re_path(r"", NotFoundView.as_view()),
]
