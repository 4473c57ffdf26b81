from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate
from django_otp.plugins.otp_totp.apps import DefaultConfig as TotpAppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Accounts and Dixa ingest"

    def ready(self) -> None:
        from integrations.alerts import register
        from integrations.alerts.conditions import register_conditions
        from integrations.erasure import services as erasure  # noqa: F401  (its steps)
        from integrations.selectors.dixa import dixa_connection_page, dixa_subscription_findings
        from integrations.services import processing  # noqa: F401  (registers its outbox)
        from integrations.services.roles import roles_sync_after_migrate

        register_conditions()
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="relay_roles")
        register(
            "dixa_subscription",
            "Dixa subscription disabled or failing",
            dixa_subscription_findings,
            action=dixa_connection_page,
        )


class RelayAdminConfig(AdminConfig):
    """django.contrib.admin, whose default site opens on the dashboard."""

    default_site = "integrations.admin_site.RelayAdminSite"


# Third-party apps under names that say what they hold, on the admin's index and dashboard.
class AxesConfig(AxesAppConfig):
    verbose_name = "Login lockouts (django-axes)"


class TotpConfig(TotpAppConfig):
    verbose_name = "Second-factor devices"
