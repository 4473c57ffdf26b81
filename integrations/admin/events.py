import json

from django.contrib import admin
from django.utils.html import format_html

from integrations.admin.scoping import AccountListFilter, AccountScopedAdmin
from integrations.models import InboundEvent, RejectedDelivery
from integrations.services.processing import inbound_events_reprocess


def truncate(text: str, length: int = 90) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def pretty_json(value) -> str:
    return format_html(
        "<pre style='white-space:pre-wrap'>{}</pre>",
        json.dumps(value, indent=2, ensure_ascii=False),
    )


def pretty_body(raw_text: str) -> str:
    try:
        return json.dumps(json.loads(raw_text), indent=2, ensure_ascii=False)
    except ValueError:
        return raw_text


class ReadOnlyLogAdmin(AccountScopedAdmin):
    show_full_result_count = False
    list_select_related = ("account",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("raw_body")

    @admin.display(description="body")
    def body(self, obj):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", pretty_body(obj.body_text))


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyLogAdmin):
    list_display = (
        "received_at",
        "event_type",
        "csid",
        "status",
        "outcome",
        "short_reason",
        "verification",
        "account",
    )
    list_per_page = 50
    list_filter = (
        "event_type",
        "outcome",
        "status",
        "verification",
        "is_known_type",
        AccountListFilter,
    )
    search_fields = ("event_id", "=csid", "queue_id")
    date_hierarchy = "received_at"
    actions = ["reprocess"]
    fieldsets = (
        (None, {"fields": ("account", "event_id", "event_type", "event_fqn", "is_known_type")}),
        (
            "Conversation",
            {"fields": ("csid", "queue_id", "channel", "organization_id", "event_timestamp")},
        ),
        ("Delivery", {"fields": ("received_at", "verification", "headers", "body")}),
        (
            "Processing",
            {
                "fields": (
                    "status",
                    "outcome",
                    "outcome_reason",
                    "processing_attempts",
                    "processed_at",
                )
            },
        ),
    )
    readonly_fields = tuple(f for fs in fieldsets for f in fs[1]["fields"])

    def has_change_permission(self, request, obj=None):
        # The change page is the detail page; every field on it is read-only.
        return super(ReadOnlyLogAdmin, self).has_change_permission(request, obj)

    @admin.display(description="reason", ordering="outcome_reason")
    def short_reason(self, obj):
        return truncate(obj.outcome_reason)

    @admin.action(description="Reprocess selected events")
    def reprocess(self, request, queryset):
        count = inbound_events_reprocess(queryset=queryset)
        self.message_user(request, f"{count} event(s) queued for reprocessing")


@admin.register(RejectedDelivery)
class RejectedDeliveryAdmin(ReadOnlyLogAdmin):
    list_display = ("received_at", "account", "status_code", "reason", "body_size")
    list_filter = ("status_code", AccountListFilter)
    date_hierarchy = "received_at"
    fields = (
        "account",
        "received_at",
        "status_code",
        "reason",
        "body_size",
        "body_truncated",
        "headers",
        "body",
    )
    readonly_fields = fields
