"""Management API tokens in the admin: each staff user issues and revokes their own (a
superuser sees everyone's). A token is shown once, when issued; nobody edits or deletes one."""

from django.contrib import admin, messages

from integrations.admin.confirm import PinnedSelectionMixin, confirm_first
from integrations.audit.services import audit_record
from integrations.models import ManagementToken
from integrations.services.management_tokens import (
    management_token_create,
    management_token_revoke,
)


def _staff(request) -> bool:
    return request.user.is_active and request.user.is_staff


@admin.register(ManagementToken)
class ManagementTokenAdmin(PinnedSelectionMixin, admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "state")
    list_select_related = ("user",)
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)

    def lookup_allowed(self, lookup, value, request=None):
        return False  # the list has no filters: the query string runs no lookups

    def get_fields(self, request, obj=None):
        return ("name",) if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    # Tokens are the user's own: being staff is the permission, not a model permission.
    def has_module_permission(self, request):
        return _staff(request)

    def has_view_permission(self, request, obj=None):
        return _staff(request)

    def has_add_permission(self, request):
        return _staff(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        return _staff(request)

    @admin.display(description="state")
    def state(self, obj):
        return "active" if obj.is_active else "revoked"

    def save_model(self, request, obj, form, change):
        issued = management_token_create(user=request.user, name=obj.name)
        obj.pk, obj.prefix, obj.created_at = (
            issued.token.pk,
            issued.token.prefix,
            issued.token.created_at,
        )
        audit_record(
            actor=request.user,
            action="management token issue",
            objects=[issued.token],
            summary=f"Issue management token {issued.token}",
            result="issued",
        )
        self.message_user(
            request,
            "Copy this token now; it is stored hashed and will not be shown again: "
            + issued.plaintext,
            messages.WARNING,
        )

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    @confirm_first(
        "Revoke",
        eligible=lambda tokens: tokens.filter(revoked_at=None),
        note="Each token stops working at once: the management API answers 401 to it from "
        "then on. A revoked token cannot be restored; issue a new one.",
    )
    def revoke(self, request, queryset):
        revoked = sum(management_token_revoke(token=token) for token in queryset)
        audit_record(
            actor=request.user,
            action="management token revoke",
            objects=queryset,
            summary=f"Revoke {len(queryset)} selected management token(s)",
            result=f"{revoked} revoked (the others were revoked already)",
        )
        self.message_user(request, f"{revoked} token(s) revoked")
