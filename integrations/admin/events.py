import json

from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.utils.html import format_html

from integrations import events
from integrations.admin import columns
from integrations.admin.confirm import confirm_first
from integrations.admin.filters import fixed_choices_filter, recent_filter
from integrations.admin.made_from import made_from_html
from integrations.admin.object_actions import ObjectActions
from integrations.admin.paginator import CappedPaginator
from integrations.admin.scoping import AccountScopedAdmin, visible_accounts
from integrations.admin.search import ExactSearchMixin, exact_term_filter
from integrations.audit.services import audit_record
from integrations.dixa.catalogue import EVENT_TYPES
from integrations.models import HandlerRun, InboundEvent, InboundEventBody, RejectedDelivery
from integrations.services.processing import inbound_events_reprocess, reprocessable


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


class RecordAdmin(ObjectActions, AccountScopedAdmin):
    """What happened, kept as it happened: nobody adds, edits or deletes it in the admin (a
    user with the view or change permission sees it read-only). Actions on records (retry,
    reprocess) take `permissions=["operate"]`: the model's change permission."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_operate_permission(self, request):
        codename = get_permission_codename("change", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")


class ReadOnlyLogAdmin(RecordAdmin):
    show_full_result_count = False
    list_select_related = ("account",)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("raw_body")

    @admin.display(description="body")
    def body(self, obj):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", pretty_body(obj.body_text))


class HandlerRunInline(admin.TabularInline):
    model = HandlerRun
    fields = ("handler", "outcome", "reason", "attempts", "finished_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "outcome of each handler"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(InboundEvent)
class InboundEventAdmin(columns.WideListMixin, ExactSearchMixin, RecordAdmin):
    show_full_result_count = False
    paginator = CappedPaginator
    list_select_related = ("account",)
    inlines = [HandlerRunInline]
    list_display = ("received", "kind", "csid", "state", "short_reason", "signed", "account")
    list_display_links = ("received",)
    list_per_page = 50
    list_filter = (
        recent_filter("received_at", "received"),
        fixed_choices_filter(
            "event_type",
            "event type",
            [(t, t.removeprefix("Conversation") or t) for t in EVENT_TYPES],
        ),
        "outcome",
        "status",
        "verification",
        "is_known_type",
        "account",
    )
    search_fields = ("event_id",)  # shows the box; ExactSearchMixin does the search
    exact_search = {"csid": "csid", "email": "requester_email", "phone": "requester_phone"}
    search_help_text = "An exact csid, the customer's email or phone, or an event id."
    actions = ["reprocess"]
    fieldsets = (
        (None, {"fields": ("account", "event_id", "event_type", "event_fqn", "is_known_type")}),
        (
            "Conversation",
            {"fields": ("csid", "queue_id", "channel", "organization_id", "event_timestamp")},
        ),
        ("Delivery", {"fields": ("received_at", "verification", "headers", "request_body")}),
        (
            "Processing",
            {
                "fields": (
                    "status",
                    "outcome",
                    "outcome_reason",
                    "made_from",
                    "processing_attempts",
                    "processed_at",
                )
            },
        ),
    )
    readonly_fields = tuple(f for fs in fieldsets for f in fs[1]["fields"])

    @admin.display(description="made from it")
    def made_from(self, obj):
        return made_from_html(obj)

    def get_queryset(self, request):
        # The list joins the account for its name; its encrypted key is not decrypted per row.
        return super().get_queryset(request).defer("account__npstoday_api_key")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if term and not exact_term_filter(term, self.exact_search):
            # An event id, on the unique (account, event_id) index: one probe per account.
            accounts = list(visible_accounts(request.user).values_list("pk", flat=True))
            return queryset.filter(account_id__in=accounts, event_id=term), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="received", ordering="received_at")
    def received(self, obj):
        return columns.when(obj.received_at)

    @admin.display(description="event", ordering="event_type")
    def kind(self, obj):
        short = obj.event_type.removeprefix("Conversation") or obj.event_type
        return format_html('<span title="{}">{}</span>', obj.event_type, short)

    @admin.display(description="state", ordering="outcome")
    def state(self, obj):
        if obj.status != InboundEvent.Status.PROCESSED:
            return columns.tag(obj.get_status_display(), "#b7791f")
        colour = {"error": "#ba2121", "handled": "#2e7d32"}.get(obj.outcome, "")
        return columns.tag(obj.get_outcome_display(), colour)

    @admin.display(description="reason", ordering="outcome_reason")
    def short_reason(self, obj):
        return columns.cut(obj.outcome_reason)

    @admin.display(description="signature", ordering="verification")
    def signed(self, obj):
        if obj.verification == InboundEvent.Verification.VERIFIED:
            return columns.tag("✓ verified", "#2e7d32")
        return columns.tag("unverified", "#b7791f")

    def _stored_body(self, obj):
        try:
            return obj.body
        except InboundEventBody.DoesNotExist:
            return None

    # Not named "body": the admin would show the reverse relation of that name instead.
    @admin.display(description="body")
    def request_body(self, obj):
        stored = self._stored_body(obj)
        if stored is None:
            return "(removed by retention)"
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", pretty_body(stored.text))

    @admin.display(description="headers")
    def headers(self, obj):
        stored = self._stored_body(obj)
        return pretty_json(stored.headers) if stored else "(removed by retention)"

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "reprocess" not in actions:
            return actions
        for name in events.handler_names():
            action = _reprocess_through(name)
            actions[action.__name__] = (action, action.__name__, action.short_description)
        return actions

    @admin.action(description="Reprocess selected events (every handler)", permissions=["operate"])
    @confirm_first("Reprocess", eligible=reprocessable)
    def reprocess(self, request, queryset):
        count = inbound_events_reprocess(queryset=queryset)
        audit_record(
            actor=request.user,
            action="event reprocess",
            objects=queryset,
            summary=f"Reprocess {len(queryset)} selected event(s) through every handler",
            result=f"{count} queued for reprocessing",
        )
        self.message_user(request, f"{count} event(s) queued for reprocessing")


def _reprocess_through(handler: str):
    @confirm_first(
        "Reprocess", detail=f"through the {handler} handler only", eligible=reprocessable
    )
    def action(modeladmin, request, queryset):
        count = inbound_events_reprocess(queryset=queryset, handler=handler)
        audit_record(
            actor=request.user,
            action="event reprocess",
            objects=queryset,
            summary=f"Reprocess {len(queryset)} selected event(s) through the {handler} handler",
            result=f"{count} queued for the {handler} handler",
        )
        modeladmin.message_user(request, f"{count} event(s) queued for the {handler} handler")

    action.__name__ = f"reprocess_{handler}"
    action.short_description = f"Reprocess selected events through the {handler} handler only"
    return action


@admin.register(RejectedDelivery)
class RejectedDeliveryAdmin(columns.WideListMixin, ReadOnlyLogAdmin):
    paginator = CappedPaginator
    list_display = ("received", "account", "sent_with", "status_code", "short_reason", "body_size")
    list_select_related = ("account", "api_key")
    list_filter = (
        recent_filter("received_at", "received"),
        fixed_choices_filter("status_code", "status", [(c, c) for c in (400, 401, 411, 413)]),
        "account",
    )
    fields = (
        "account",
        "api_key",
        "received_at",
        "status_code",
        "reason",
        "body_size",
        "body_truncated",
        "headers",
        "body",
    )
    readonly_fields = fields

    @admin.display(description="received", ordering="received_at")
    def received(self, obj):
        return columns.when(obj.received_at)

    @admin.display(description="reason", ordering="reason")
    def short_reason(self, obj):
        return columns.cut(obj.reason)

    @admin.display(description="API key")
    def sent_with(self, obj):
        return str(obj.api_key) if obj.api_key else "—"
