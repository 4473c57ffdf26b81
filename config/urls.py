from django.conf import settings
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView, TemplateView

from integrations.api import health
from integrations.api.metrics import MetricsView


class FaviconView(RedirectView):
    """Browsers and tools ask for /favicon.ico whatever a page links; the icon is static."""

    def get_redirect_url(self, *args, **kwargs):
        return static("relay/favicon.svg")


urlpatterns = [
    path("favicon.ico", FaviconView.as_view(), name="favicon"),
    path("", TemplateView.as_view(template_name="landing.html"), name="landing"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    # The management API (docs/api.md); the webhooks below keep their paths.
    path("api/v1/", include("config.api_urls")),
    path("api/", include("integrations.api.urls")),
    path("api/", include("pgap.api.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
]
