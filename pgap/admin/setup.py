"""P-GAP admin: an account's setup, and the check of its Dixa attribute."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from integrations import crypto
from integrations.admin.forms import SecretFieldsForm
from integrations.admin.scoping import AccountScopedAdmin
from integrations.audit.services import audit_record
from integrations.services.dixa_sync import subscription_sync_request
from pgap.models import PgapSetup
from pgap.services.setup import (
    CHECKED_FIELDS,
    SUBSCRIPTION_FIELDS,
    pgap_setup_check,
    pgap_setup_check_clear,
)


class PgapSetupForm(SecretFieldsForm):
    secret_fields = ("dixa_api_token",)

    class Meta:
        model = PgapSetup
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        account = cleaned.get("account") or getattr(self.instance, "account", None)
        mappings = cleaned.get("mappings") or []
        others = [m for m in mappings if account and m.account_id != account.pk]
        if others:
            raise ValidationError({"mappings": f"not mappings of {account}: {others}"})
        return cleaned


@admin.register(PgapSetup)
class PgapSetupAdmin(AccountScopedAdmin):
    masked_as = {"dixa_api_token": "token"}  # for who may only view
    form = PgapSetupForm
    list_display = ("account", "enabled", "attribute_identifier", "check_state", "token")
    list_filter = ("enabled", "check_passed")
    list_select_related = ("account",)
    filter_horizontal = ("mappings",)
    actions = ["check_against_dixa"]
    change_form_template = "admin/pgap/pgapsetup/change_form.html"
    fieldsets = (
        (None, {"fields": ("account", "enabled")}),
        (
            "The agent's score",
            {
                "description": "Agents fill a conversation custom attribute in Dixa (a "
                "Select, 0–10, required for agents) before they close; the survey carries it "
                "to nps.today as custom.pGap.",
                "fields": ("attribute_identifier", "mappings", "dixa_api_token", "wait_seconds"),
            },
        ),
        (
            "Check against Dixa",
            {
                "description": "“Check against Dixa” above asks Dixa afresh (also a list "
                "action, for several accounts at once).",
                "fields": ("check_result", "attribute_id", "checked_at"),
            },
        ),
        (
            "Back to the agent",
            {"fields": ("write_back_attribute_id", "write_back_input_type")},
        ),
    )
    readonly_fields = ("check_result", "attribute_id", "checked_at", "write_back_input_type")

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (("account",) if obj else ())

    def save_model(self, request, obj, form, change):
        if change:
            stored = PgapSetup.objects.get(pk=obj.pk)
            if any(getattr(stored, f) != getattr(obj, f) for f in CHECKED_FIELDS):
                pgap_setup_check_clear(setup=obj)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # P-GAP on or off, or other mappings: the Dixa subscription's events and queues too.
        if not change or SUBSCRIPTION_FIELDS & set(form.changed_data):
            subscription_sync_request(account_id=form.instance.account_id)

    @admin.display(description="Dixa token")
    def token(self, obj):
        return crypto.mask(obj.dixa_api_token) or "a mapping's"

    @admin.display(description="check", ordering="check_passed")
    def check_state(self, obj):
        if obj.checked_at is None:
            return "not checked"
        when = timezone.localtime(obj.checked_at).strftime("%Y-%m-%d %H:%M")
        if obj.check_passed:
            return f"passed {when}"
        return format_html(
            '<span style="color:#ba2121">{} problem(s) {}</span>', len(obj.check_problems), when
        )

    @admin.display(description="result")
    def check_result(self, obj):
        if obj.checked_at is None:
            return "Not checked yet."
        if obj.check_passed:
            return "Passed: the attribute is a conversation Select 0–10, required for agents."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((p.get("point"), p.get("found"), p.get("fix")) for p in obj.check_problems),
        )
        return format_html(
            "<table><tr><th>point</th><th>found</th><th>fix in Dixa</th></tr>{}</table>", rows
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/check/",
                self.admin_site.admin_view(require_POST(self.check_view)),
                name="pgap_pgapsetup_check",
            ),
            *super().get_urls(),
        ]

    def check_view(self, request, object_id):
        """The page's Check against Dixa button: the list action, for this setup."""
        setup = self.get_object(request, object_id)  # scoped to the user's accounts
        if setup is None or not self.has_change_permission(request, setup):
            raise PermissionDenied
        self.check_against_dixa(request, PgapSetup.objects.filter(pk=setup.pk))
        return redirect("admin:pgap_pgapsetup_change", setup.pk)

    @admin.action(description="Check against Dixa", permissions=["change"])
    def check_against_dixa(self, request, queryset):
        for setup in queryset.select_related("account"):
            pgap_setup_check(setup=setup)
            audit_record(
                actor=request.user,
                action="P-GAP check against Dixa",
                objects=[setup],
                summary=f"Check {setup.attribute_identifier} of {setup.account} against Dixa",
                result="passed"
                if setup.check_passed
                else f"{len(setup.check_problems)} problem(s)",
            )
            if setup.check_passed:
                self.message_user(
                    request, f"{setup.account}: {setup.attribute_identifier} passed the check"
                )
                continue
            for problem in setup.check_problems:
                self.message_user(
                    request,
                    f"{setup.account}: {problem['found']}. Fix: {problem['fix']}",
                    messages.ERROR,
                )
