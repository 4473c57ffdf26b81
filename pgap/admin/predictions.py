"""P-GAP admin: the agents' predictions (read-only records)."""

from django.contrib import admin

from integrations.admin import columns
from integrations.admin.confirm import confirm_first
from integrations.admin.events import RecordAdmin, truncate
from integrations.audit.services import audit_record
from pgap.models import AgentPrediction
from pgap.services.capture import predictions_read_again, predictions_readable_again


@admin.register(AgentPrediction)
class AgentPredictionAdmin(columns.WideListMixin, RecordAdmin):
    list_display = (
        "csid",
        "status",
        "score",
        "agent_email",
        "mapping",
        "closed_at",
        "short_reason",
    )
    list_filter = ("status", "source", "account", "mapping")
    list_select_related = ("account", "mapping")
    search_fields = ("=csid", "agent_email", "agent_name")
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["read_again"]
    fields = (
        "account",
        "csid",
        "mapping",
        "queue_id",
        "inbound_event",
        "agent_id",
        "agent_email",
        "agent_name",
        "score",
        "status",
        "source",
        "reason",
        "closed_at",
        "captured_at",
        "next_attempt_at",
        "attempt_count",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="reason", ordering="reason")
    def short_reason(self, obj):
        return truncate(obj.reason)

    @admin.action(description="Read selected again from Dixa", permissions=["operate"])
    @confirm_first(
        "Read again",
        detail="from Dixa",
        eligible=predictions_readable_again,
        note="Each prediction whose score could not be had (failed, missing, invalid) is read "
        "from Dixa again with fresh tries; its reason so far is replaced.",
    )
    def read_again(self, request, queryset):
        count = predictions_read_again(queryset=queryset, by=request.user.get_username())
        audit_record(
            actor=request.user,
            action="prediction read again",
            objects=queryset,
            summary=f"Read {len(queryset)} selected prediction(s) again from Dixa",
            result=f"{count} to read again",
        )
        self.message_user(request, f"{count} prediction(s) to read again from Dixa")
