from functools import partial

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from integrations import crypto
from integrations.admin import columns
from integrations.admin.confirm import confirm_first
from integrations.admin.events import RecordAdmin, pretty_json
from integrations.admin.filters import recent_filter, status_class_filter
from integrations.admin.paginator import CappedPaginator
from integrations.admin.scoping import AccountScopedAdmin
from integrations.admin.search import ExactSearchMixin
from integrations.audit.services import audit_record
from integrations.services.dixa_sync import subscription_sync_request
from ivr.admin_lookup import customer_lookup_view
from ivr.admin_options import (
    mapping_connection_report,
    mapping_options_view,
    mapping_test_connection_view,
)
from ivr.admin_resend import resend_since_view
from ivr.forms import IvrMappingForm
from ivr.models import DeliveryAttempt, IvrMapping, NpsTodayDelivery, SurveyTrigger
from ivr.selectors import mappings_with_recent_counts
from ivr.services import operations


def surveys_done(count: int, done: str) -> str:
    """ "1 survey resent", "3 surveys resent"."""
    return ngettext("%(count)d survey %(done)s", "%(count)d surveys %(done)s", count) % {
        "count": count,
        "done": done,
    }


@admin.register(IvrMapping)
class IvrMappingAdmin(columns.WideListMixin, AccountScopedAdmin):
    masked_as = {"dixa_api_token": "token"}  # for who may only view
    form = IvrMappingForm
    list_display = (
        "name",
        "account",
        "campaign",
        "queue",
        "enabled",
        "delivered_24h",
        "failed_24h",
        "token",
    )
    list_filter = ("enabled", "account")
    list_select_related = ("account",)
    ordering = ("account__name", "name")  # Meta.ordering does not survive the 24 h counts
    search_fields = ("name", "queue_id", "=campaign_id")
    actions = ["test_connection"]
    change_form_template = "admin/ivr/ivrmapping/change_form.html"
    fieldsets = (
        (None, {"fields": ("account", "name", "enabled")}),
        (
            "Dixa queue → nps.today campaign",
            {"fields": ("dixa_api_token", "queue_id", "campaign_id", "save_anyway")},
        ),
        (
            "Survey rules",
            {
                "description": "An assigned agent is always required and abandoned "
                "conversations are never surveyed.",
                "fields": (
                    "channels",
                    "excluded_tags",
                    "delay_minutes",
                    "quarantine_days",
                    "once_per_conversation",
                    "sample_percent",
                ),
            },
        ),
    )

    def get_urls(self):
        extra = [
            path(
                "options/<slug:kind>/",
                self.admin_site.admin_view(require_POST(partial(mapping_options_view, self))),
                name="ivr_ivrmapping_options",
            ),
            path(
                "<path:object_id>/test-connection/",
                self.admin_site.admin_view(
                    require_POST(partial(mapping_test_connection_view, self))
                ),
                name="ivr_ivrmapping_test_connection",
            ),
        ]
        return extra + super().get_urls()

    def get_queryset(self, request):
        return mappings_with_recent_counts(super().get_queryset(request))

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets  # the form's pickers show the stored names beside the ids
        # Read-only: the ids with their stored names.
        shown = {"queue_id": "queue_with_name", "campaign_id": "campaign_with_name"}
        return [
            (title, {**options, "fields": tuple(shown.get(f, f) for f in options["fields"])})
            for title, options in fieldsets
        ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change or {"queue_id", "enabled"} & set(form.changed_data):
            subscription_sync_request(account_id=obj.account_id)

    def has_delete_permission(self, request, obj=None):
        """A mapping that made surveys is disabled, not deleted: deleting it would delete
        them, and they are records (the API refuses it the same way). No bulk delete: it
        would be refused for any selection holding such a mapping."""
        if obj is not None and obj.triggers.exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        subscription_sync_request(account_id=obj.account_id)

    @admin.display(description="campaign", ordering="campaign_id")
    def campaign(self, obj):
        return f"{obj.campaign_id} · {obj.campaign_name}" if obj.campaign_name else obj.campaign_id

    @admin.display(description="queue", ordering="queue_id")
    def queue(self, obj):
        return obj.queue_name or obj.queue_id

    @admin.display(description="Dixa queue")
    def queue_with_name(self, obj):
        return f"{obj.queue_id} · {obj.queue_name}" if obj.queue_name else obj.queue_id

    @admin.display(description="campaign in nps.today")
    def campaign_with_name(self, obj):
        return self.campaign(obj)

    @admin.display(description="delivered 24 h", ordering="delivered_24h")
    def delivered_24h(self, obj):
        return obj.delivered_24h

    @admin.display(description="failed 24 h", ordering="failed_24h")
    def failed_24h(self, obj):
        if obj.failed_24h:
            return format_html('<span style="color:{}">{}</span>', "#ba2121", obj.failed_24h)
        return 0

    @admin.display(description="Dixa token")
    def token(self, obj):
        return crypto.mask(obj.dixa_api_token) or "—"

    @admin.action(description="Test connection (nps.today key and Dixa token)")
    def test_connection(self, request, queryset):
        for mapping in queryset.select_related("account"):
            mapping_connection_report(self, request, mapping)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    ordering = ("created_at", "pk")  # in the order made: a resend numbers its tries from 1 again
    can_delete = False
    fields = (
        "try_number",
        "created_at",
        "outcome",
        "response_status_code",
        "duration_ms",
        "error",
        "response_body",
        "task_id",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        earlier = DeliveryAttempt.objects.filter(trigger_id=OuterRef("trigger_id")).filter(
            Q(created_at__lt=OuterRef("created_at"))
            | Q(created_at=OuterRef("created_at"), pk__lt=OuterRef("pk"))
        )
        return super().get_queryset(request).annotate(after_earlier=Exists(earlier))

    @admin.display(description="try")
    def try_number(self, obj):
        """Tries read 1, 2, 3, 1 after a resend: the restart is marked."""
        if obj.number == 1 and getattr(obj, "after_earlier", False):
            return format_html("{} <small>(resent)</small>", obj.number)
        return obj.number


@admin.register(SurveyTrigger)
class SurveyTriggerAdmin(columns.WideListMixin, ExactSearchMixin, RecordAdmin):
    paginator = CappedPaginator
    list_display = (
        "id",
        "created",
        "state",
        "mapping",
        "csid",
        "tries",
        "last_status_code",
        "short_reason",
    )
    list_filter = (
        recent_filter("created_at", "created"),
        "status",
        "account",
        "mapping",
        status_class_filter("last_status_code", "last answer"),
    )
    list_select_related = ("account", "mapping")
    search_fields = ("guid",)  # shows the box; ExactSearchMixin does the search
    exact_search = {
        "uuid": "guid",
        "csid": "csid",
        "email": "respondent_email",
        "phone": "respondent_phone",
    }
    search_help_text = "An exact guid, csid, or the customer's email or phone."
    show_full_result_count = False
    inlines = [DeliveryAttemptInline]
    actions = ["retry_now", "cancel", "resend"]
    fields = (
        "account",
        "mapping",
        "inbound_event",
        "guid",
        "dedupe_key",
        "campaign_id",
        "csid",
        "respondent_email",
        "respondent_phone",
        "member",
        "status",
        "next_try",
        "attempt_count",
        "last_status_code",
        "reason",
        "created_at",
        "finished_at",
    )
    readonly_fields = fields
    change_list_template = "admin/ivr/surveytrigger/change_list.html"

    def get_queryset(self, request):
        # The list joins account and mapping for their names, not to decrypt their secrets.
        return (
            super()
            .get_queryset(request)
            .defer("account__npstoday_api_key", "mapping__dixa_api_token")
        )

    def get_urls(self):
        extra = [
            path(
                "resend-dead-letters/",
                self.admin_site.admin_view(partial(resend_since_view, self)),
                name="ivr_surveytrigger_resend_since",
            ),
            path(
                "lookup/",
                self.admin_site.admin_view(partial(customer_lookup_view, self)),
                name="ivr_customer_lookup",
            ),
        ]
        return extra + super().get_urls()

    @admin.display(description="created", ordering="created_at")
    def created(self, obj):
        return columns.when(obj.created_at)

    @admin.display(description="status", ordering="status")
    def state(self, obj):
        colour = {"delivered": "#2e7d32", "failed": "#ba2121"}.get(obj.status, "#b7791f")
        if obj.status == SurveyTrigger.Status.PENDING and obj.next_attempt_at:
            due = timezone.localtime(obj.next_attempt_at).strftime("%H:%M")
            return columns.tag(f"pending, due {due}", colour)
        return columns.tag(obj.get_status_display(), colour)

    @admin.display(description="tries", ordering="attempt_count")
    def tries(self, obj):
        return obj.attempt_count

    @admin.display(description="reason", ordering="reason")
    def short_reason(self, obj):
        return columns.cut(obj.reason, 50)

    @admin.display(description="campaign member for nps.today")
    def member(self, obj):
        return pretty_json(obj.payload)

    @admin.display(description="next try at")
    def next_try(self, obj):
        """Only while another try is to come: a delivered, cancelled or dead survey's last
        schedule would read as a try still planned."""
        if obj.status == SurveyTrigger.Status.HELD:
            return "when the account's nps.today key is enabled again"
        if obj.status not in (SurveyTrigger.Status.PENDING, SurveyTrigger.Status.SENDING):
            return "— (no further try)"
        return columns.when(obj.next_attempt_at)

    @admin.action(description="Retry selected now", permissions=["operate"])
    @confirm_first("Retry now", eligible=lambda rows: rows.filter(status__in=operations.RETRYABLE))
    def retry_now(self, request, queryset):
        count = operations.survey_triggers_retry_now(queryset=queryset)
        audit_record(
            actor=request.user,
            action="survey retry now",
            objects=queryset,
            summary=f"Retry {len(queryset)} selected survey(s) now",
            result=f"{count} queued now (only pending surveys are retried)",
        )
        self.message_user(request, surveys_done(count, "queued now"))

    @admin.action(description="Cancel selected", permissions=["operate"])
    @confirm_first("Cancel", eligible=lambda rows: rows.filter(status__in=operations.CANCELLABLE))
    def cancel(self, request, queryset):
        count = operations.survey_triggers_cancel(queryset=queryset, by=request.user.get_username())
        audit_record(
            actor=request.user,
            action="survey cancel",
            objects=queryset,
            summary=f"Cancel {len(queryset)} selected survey(s)",
            result=f"{count} cancelled (only pending and held surveys are cancelled)",
        )
        self.message_user(request, surveys_done(count, "cancelled"))

    @admin.action(description="Resend selected dead letters", permissions=["operate"])
    @confirm_first("Resend", eligible=lambda rows: rows.filter(status__in=operations.RESENDABLE))
    def resend(self, request, queryset):
        count = operations.survey_triggers_resend(queryset=queryset, by=request.user.get_username())
        audit_record(
            actor=request.user,
            action="survey resend",
            objects=queryset,
            summary=f"Resend {len(queryset)} selected survey(s)",
            result=f"{count} resent (only dead letters and cancelled surveys are resent)",
        )
        self.message_user(request, surveys_done(count, "resent"))


@admin.register(NpsTodayDelivery)
class NpsTodayDeliveryAdmin(AccountScopedAdmin):
    """Each account's retry policy and nps.today key health. An account gets its one row on
    its first delivery (or from apply_config); until then Dixa's policy applies. Rows are
    changed here, never added: an added row would clash with the account's own."""

    list_display = ("account", "key_state", "failure_streak", "max_attempts", "retry_seconds")
    list_select_related = ("account",)
    fields = ("account", "key_state", "max_attempts", "retry_seconds", "failure_streak")
    readonly_fields = ("key_state", "failure_streak")
    actions = ["reenable"]

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if not request.user.has_perm("ivr.add_npstodaydelivery"):
            # Operators (change, for the re-enable action) do not tune the retry policy.
            readonly += ("max_attempts", "retry_seconds")
        return readonly + (("account",) if obj else ())

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="API key for nps.today")
    def key_state(self, obj):
        if obj.pk is None:
            return "-"
        if not obj.account.npstoday_api_key:
            return "no key"
        if obj.disabled_at:
            return format_html(
                '<span style="color:{}">disabled {}: {}</span>',
                "#ba2121",
                timezone.localtime(obj.disabled_at).strftime("%Y-%m-%d %H:%M"),
                obj.disabled_reason,
            )
        return f"active ({crypto.mask(obj.account.npstoday_api_key)})"

    @admin.action(
        description="Re-enable nps.today delivery and release held surveys",
        permissions=["change"],
    )
    def reenable(self, request, queryset):
        for policy in queryset.select_related("account"):
            released = operations.npstoday_key_reenable(account=policy.account)
            audit_record(
                actor=request.user,
                action="nps.today key re-enable",
                objects=[policy],
                summary=f"Re-enable nps.today delivery for {policy.account}",
                result=f"re-enabled; {released} held survey(s) released",
            )
            self.message_user(
                request, f"{policy.account}: re-enabled; {released} held survey(s) released"
            )
