from django.contrib import admin

from integrations.dashboard import rendered_panels


class RelayAdminSite(admin.AdminSite):
    """The admin, opening on the dashboard (its panels above the list of models)."""

    site_header = "Dixa survey relay"
    site_title = "Dixa survey relay"
    index_title = "Dashboard"
    index_template = "admin/relay_index.html"

    def index(self, request, extra_context=None):
        context = {"dashboard_panels": rendered_panels(request), **(extra_context or {})}
        return super().index(request, context)
