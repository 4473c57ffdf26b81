"""Every save in the admin is audited (through ModelAdmin's log hooks, beside Django's own
history), and every object's change page ends with the actions taken on it."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from integrations.audit.selectors import audit_entries_for
from integrations.audit.services import audit_record

FIELD = "audit_trail"


class AuditTrailMixin:
    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        self._audit_save(request, obj, "add", entry.get_change_message() or "Added.")
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        self._audit_save(request, obj, "change", entry.get_change_message() or "No fields changed.")
        return entry

    def log_deletions(self, request, queryset):
        entries = super().log_deletions(request, queryset)
        names = ", ".join(str(obj) for obj in list(queryset)[:20])
        audit_record(
            actor=request.user,
            action=f"{self.opts.verbose_name} delete",
            objects=queryset,
            summary=f"Delete {names}",
            result="deleted",
        )
        return entries

    def _audit_save(self, request, obj, verb: str, message: str) -> None:
        audit_record(
            actor=request.user,
            action=f"{self.opts.verbose_name} {verb}",
            objects=[obj],
            summary=f"{obj}: {message}",
            result="saved",
        )

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly + (FIELD,) if obj is not None and FIELD not in readonly else readonly

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (name, {**options, "fields": [f for f in options["fields"] if f != FIELD]})
            for name, options in super().get_fieldsets(request, obj)
        ]
        # Only where the trail is read-only (an admin whose get_readonly_fields leaves out
        # super()'s goes without it rather than fail).
        if obj is not None and FIELD in self.get_readonly_fields(request, obj):
            fieldsets.append(("Audit trail", {"fields": [FIELD]}))
        return fieldsets

    @admin.display(description="actions taken")
    def audit_trail(self, obj):
        entries = list(audit_entries_for(obj))
        if not entries:
            return "None yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{entry.at:%Y-%m-%d %H:%M:%S}",
                    entry.actor_label,
                    entry.action,
                    entry.summary,
                    entry.result,
                )
                for entry in entries
            ),
        )
        return format_html(
            '<table class="relay-audit"><thead><tr><th>when (UTC)</th><th>by</th><th>action</th>'
            "<th>what</th><th>result</th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}">The whole audit trail</a></p>',
            rows,
            reverse("admin:integrations_auditentry_changelist"),
        )
