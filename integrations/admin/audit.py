from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join

from integrations.admin import columns
from integrations.admin.events import RecordAdmin, truncate
from integrations.audit.models import AuditEntry

MAX_LINKED_OBJECTS = 100


@admin.register(AuditEntry)
class AuditEntryAdmin(columns.WideListMixin, RecordAdmin):
    """Who did what, when, and what came of it: evidence, read-only for everyone."""

    list_display = ("at", "action", "actor_label", "account", "short_summary", "short_result")
    list_filter = ("action", "account")
    list_select_related = ("account",)
    search_fields = ("actor_label", "summary", "=targets__object_id")
    show_full_result_count = False
    fields = (
        "at",
        "account",
        "actor_label",
        "action",
        "content_type",
        "object_count",
        "objects",
        "summary",
        "result",
    )
    readonly_fields = fields

    def get_fieldsets(self, request, obj=None):
        return [(None, {"fields": self.fields})]  # no audit trail of the audit trail

    @admin.display(description="what", ordering="summary")
    def short_summary(self, obj):
        return truncate(obj.summary, 70)

    @admin.display(description="result", ordering="result")
    def short_result(self, obj):
        return truncate(obj.result, 70)

    @admin.display(description="objects")
    def objects(self, obj):
        ids = list(obj.targets.values_list("object_id", flat=True)[:MAX_LINKED_OBJECTS])
        model = obj.content_type.model_class() if obj.content_type else None
        if model is None:
            return ", ".join(ids) or "—"
        links = []
        for object_id in ids:
            try:
                url = reverse(
                    f"admin:{model._meta.app_label}_{model._meta.model_name}_change",
                    args=[object_id],
                )
            except NoReverseMatch:
                url = ""
            links.append((url, object_id))
        more = obj.object_count - len(ids)
        return format_html(
            "{}{}",
            format_html_join(", ", '<a href="{}">#{}</a>', links),
            f" and {more} more" if more > 0 else "",
        )
