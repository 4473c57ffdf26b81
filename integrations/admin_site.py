from urllib.parse import urlencode

from django.contrib import admin
from django.shortcuts import redirect
from django.urls import path, reverse

from integrations.admin_two_factor import RelayAuthenticationForm, two_factor_view
from integrations.dashboard import rendered_panels
from integrations.services.two_factor import two_factor_required


class RelayAdminSite(admin.AdminSite):
    """The admin, opening on the dashboard (its panels above the list of models). Sign-in asks
    for a second factor where an account requires one (integrations/admin_two_factor.py)."""

    site_header = "Dixa survey relay"
    site_title = "Dixa survey relay"
    index_title = "Dashboard"
    index_template = "admin/relay_index.html"
    login_form = RelayAuthenticationForm
    login_template = "admin/relay_login.html"

    def index(self, request, extra_context=None):
        context = {"dashboard_panels": rendered_panels(request), **(extra_context or {})}
        return super().index(request, context)

    def has_permission(self, request):
        if not super().has_permission(request):
            return False
        return request.user.is_verified() or not two_factor_required(request.user)

    def login(self, request, extra_context=None):
        # Signed in with a password but without the factor their account requires: on to
        # enrolling or entering a code, rather than the login page's "not authorized".
        user = request.user
        if user.is_active and user.is_staff and not self.has_permission(request):
            target = reverse("admin:two_factor")
            next_url = request.GET.get("next")
            return redirect(f"{target}?{urlencode({'next': next_url})}" if next_url else target)
        return super().login(request, extra_context)

    def two_factor(self, request):
        return two_factor_view(request, self)

    def get_urls(self):
        return [
            path("two-factor/", self.two_factor, name="two_factor"),
            # Ahead of Django's own: that one passes through admin_view, which sends whoever
            # lacks has_permission (signed in, second factor still due) to the index instead
            # of logging them out. LogoutView itself takes only POST and checks CSRF.
            path("logout/", self.logout, name="logout"),
            *super().get_urls(),
        ]
