"""/api/v1/: the schema and its pages, and integrations' endpoints (ivr and pgap add theirs)."""

from django.urls import path
from django.views.generic import RedirectView
from rest_framework.routers import SimpleRouter

from integrations.api.manage.accounts import AccountViewSet
from integrations.api.manage.docs import RedocView, SchemaView, SwaggerView
from integrations.api.manage.erasures import ErasureViewSet
from integrations.api.manage.events import InboundEventViewSet

router = SimpleRouter(trailing_slash=False)
router.register("accounts", AccountViewSet, basename="api-account")
router.register("events", InboundEventViewSet, basename="api-event")
router.register("erasures", ErasureViewSet, basename="api-erasure")

urlpatterns = [
    path("schema", SchemaView.as_view(), name="api-schema"),
    path("docs", SwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc", RedocView.as_view(url_name="api-schema"), name="api-redoc"),
    # The pages also answer with a trailing slash, as people type them (the API's own
    # paths have none, and a slash there is a 404).
    *(
        path(f"{page}/", RedirectView.as_view(pattern_name=f"api-{page}", query_string=True))
        for page in ("schema", "docs", "redoc")
    ),
    *router.urls,
]
