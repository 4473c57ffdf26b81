from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.html import format_html

from integrations import crypto
from integrations.admin.events import RecordAdmin, truncate
from integrations.admin.forms import SecretFieldsForm
from integrations.admin.scoping import AccountScopedAdmin
from integrations.alerts.destinations import webhook_refusal
from integrations.alerts.models import AlertIncident, AlertSettings
from integrations.alerts.notify import alert_test_send
from integrations.alerts.registry import conditions, title_of
from integrations.audit.services import audit_record


class AlertSettingsForm(SecretFieldsForm):
    secret_fields = ("webhook_url",)

    def clean_email_recipients(self):
        lines = [line.strip() for line in self.cleaned_data["email_recipients"].splitlines()]
        addresses = [line for line in lines if line]
        bad = [a for a in addresses if not _is_email(a)]
        if bad:
            raise ValidationError(f"not an email address: {', '.join(bad[:3])}")
        return "\n".join(addresses)

    def clean_webhook_url(self):
        url = self.cleaned_data.get("webhook_url") or ""
        refusal = webhook_refusal(url) if url else None
        if refusal:
            raise ValidationError(refusal)
        return url


def _is_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


@admin.register(AlertSettings)
class AlertSettingsAdmin(AccountScopedAdmin):
    masked_as = {"webhook_url": "webhook"}  # for who may only view
    form = AlertSettingsForm
    list_display = (
        "account",
        "recipient_count",
        "webhook",
        "dead_letters_per_hour",
        "silent_hours",
    )
    list_select_related = ("account",)
    fieldsets = (
        (None, {"fields": ("account",)}),
        ("Where alerts go", {"fields": ("email_recipients", "webhook_url")}),
        (
            "Thresholds",
            {
                "fields": (
                    "dead_letters_per_hour",
                    "failure_rate_percent",
                    "signature_failures_per_hour",
                    "silent_hours",
                )
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly + ("account",) if obj else readonly

    actions = ["send_test"]

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Send a test alert", permissions=["change"])
    def send_test(self, request, queryset):
        for channel in queryset.select_related("account"):
            if not (channel.recipients or channel.webhook_url):
                self.message_user(
                    request, f"{channel.account}: no email or webhook set", messages.WARNING
                )
                continue
            errors = alert_test_send(channel=channel)
            result = "; ".join(errors) or "sent"
            audit_record(
                actor=request.user,
                action="alert test",
                objects=[channel],
                summary=f"Send a test alert for {channel.account}",
                result=result,
            )
            if errors:
                self.message_user(request, f"{channel.account}: {result}", messages.ERROR)
            else:
                self.message_user(request, f"{channel.account}: test alert sent")

    @admin.display(description="email recipients")
    def recipient_count(self, obj):
        return len(obj.recipients)

    @admin.display(description="webhook")
    def webhook(self, obj):
        return crypto.mask(obj.webhook_url) or "—"


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at=None)
        if self.value() == "resolved":
            return queryset.exclude(resolved_at=None)
        return queryset


class ConditionFilter(admin.SimpleListFilter):
    """The registered conditions by title (no scan of the incidents for their keys)."""

    title = "alert"
    parameter_name = "condition"

    def lookups(self, request, model_admin):
        return sorted(((c.key, c.title) for c in conditions()), key=lambda item: item[1])

    def queryset(self, request, queryset):
        return queryset.filter(condition=self.value()) if self.value() else queryset


@admin.register(AlertIncident)
class AlertIncidentAdmin(RecordAdmin):
    list_display = ("opened_at", "title", "account", "short_detail", "state")
    list_filter = (StateFilter, ConditionFilter, "account")
    list_select_related = ("account",)
    show_full_result_count = False
    fields = (
        "account",
        "condition",
        "subject",
        "detail",
        "opened_at",
        "last_seen_at",
        "resolved_at",
        "notified_at",
        "resolved_notified_at",
        "notify_error",
    )
    readonly_fields = fields

    @admin.display(description="alert", ordering="condition")
    def title(self, obj):
        return title_of(obj.condition)

    @admin.display(description="detail")
    def short_detail(self, obj):
        about = f"{obj.subject}: " if obj.subject else ""
        return truncate(about + obj.detail, 110)

    @admin.display(description="state", ordering="resolved_at")
    def state(self, obj):
        if obj.resolved_at:
            return f"resolved {obj.resolved_at:%Y-%m-%d %H:%M}"
        return format_html('<strong style="color:{}">open</strong>', "#ba2121")
