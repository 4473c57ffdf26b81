from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from integrations import crypto
from integrations.admin.confirm import confirm_first
from integrations.admin.forms import SecretFieldsForm
from integrations.admin.object_actions import ObjectActions
from integrations.admin.scoping import AccountScopedAdmin, ScopedInline
from integrations.audit.services import audit_record
from integrations.models import Account, ApiKey, SigningSecret
from integrations.services.api_keys import api_key_create, api_key_revoke
from integrations.services.connection_checks import npstoday_key_check
from integrations.services.dixa_webhooks import relay_url


class AccountForm(SecretFieldsForm):
    secret_fields = ("npstoday_api_key",)


class SigningSecretForm(SecretFieldsForm):
    secret_fields = ("secret",)


class SigningSecretInline(ScopedInline, admin.TabularInline):
    model = SigningSecret
    form = SigningSecretForm
    extra = 0
    fields = ("label", "stored", "secret", "is_active", "created_at")
    readonly_fields = ("stored", "created_at")
    masked_as = {"secret": "stored"}
    can_delete = False  # a secret is deactivated, never deleted: events name what verified them

    @admin.display(description="stored secret")
    def stored(self, obj):
        return crypto.mask(obj.secret) if obj.pk else "—"


@admin.register(Account)
class AccountAdmin(AccountScopedAdmin):
    masked_as = {"npstoday_api_key": "npstoday_key"}  # for who may only view
    form = AccountForm
    inlines = [SigningSecretInline]
    list_display = ("name", "slug", "signature_mode", "npstoday_key", "created_at")
    search_fields = ("name", "slug")
    filter_horizontal = ("members",)
    change_form_template = "admin/integrations/account/change_form.html"

    def get_urls(self):
        test = path(
            "<path:object_id>/test-connection/",
            self.admin_site.admin_view(require_POST(self.test_connection_view)),
            name="integrations_account_test_connection",
        )
        return [test, *super().get_urls()]

    def test_connection_view(self, request, object_id):
        """Whether nps.today accepts the account's key, in a sentence (asked afresh)."""
        account = self.get_object(request, object_id)
        if account is None or not self.has_view_permission(request, account):
            raise PermissionDenied
        check = npstoday_key_check(account.npstoday_api_key)
        level = messages.SUCCESS if check.ok else messages.ERROR
        self.message_user(request, f"{account}: {check.message}", level)
        return redirect("admin:integrations_account_change", account.pk)

    def get_fields(self, request, obj=None):
        fields = [
            "name",
            "slug",
            "npstoday_api_key",
            "require_signature",
            "signature_tolerance_seconds",
            "require_two_factor",
        ]
        return fields + ["members"] if request.user.is_superuser else fields

    def get_readonly_fields(self, request, obj=None):
        """The slug is set once, when the account is created (apply_config matches accounts
        by it). Only superusers rename accounts: a staff member renaming theirs to a tenant
        yet to come must not be able to claim that tenant's name."""
        readonly = tuple(super().get_readonly_fields(request, obj))  # the audit trail
        if obj is None:
            return readonly
        return readonly + (("slug",) if request.user.is_superuser else ("name", "slug"))

    def get_prepopulated_fields(self, request, obj=None):
        return {"slug": ("name",)} if obj is None else {}

    def get_changeform_initial_data(self, request):
        # Empty, so that the slug follows the name as it is typed (not the model's default).
        return {"slug": "", **super().get_changeform_initial_data(request)}

    def has_add_permission(self, request):
        return request.user.is_superuser and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        # Never in the admin, superusers included: an account's events, surveys, audit
        # entries and the rest are records, and deleting it would take them along (its
        # delete page could only list them and refuse).
        return False

    @admin.display(description="Dixa signatures")
    def signature_mode(self, obj):
        if obj.signing_secrets.filter(is_active=True).exists():
            return "verified"
        if obj.require_signature:
            return format_html(
                '<span style="color:{}">{}</span>', "#ba2121", "refusing all (no secret)"
            )
        return format_html('<span style="color:{}">{}</span>', "#b7791f", "⚠ unverified")

    @admin.display(description="API key for nps.today")
    def npstoday_key(self, obj):
        return crypto.mask(obj.npstoday_api_key) or "—"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and request.method == "GET":
            if not obj.signing_secrets.filter(is_active=True).exists():
                self.message_user(
                    request,
                    "No active signing secret: Dixa deliveries are "
                    + (
                        "refused."
                        if obj.require_signature
                        else "accepted on the API key alone, unverified."
                    )
                    + " Add the secret key from Dixa's webhook page below.",
                    messages.WARNING,
                )
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(ApiKey)
class ApiKeyAdmin(ObjectActions, AccountScopedAdmin):
    list_display = ("name", "account", "prefix", "created_at", "last_used_at", "state")
    list_filter = ("account",)
    list_select_related = ("account",)
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("account", "name")
        return ("account", "name", "prefix", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly + (("account",) if obj else ())

    def has_delete_permission(self, request, obj=None):
        # Revoke is the way out: the row stays as the record of what the key delivered, and
        # a Dixa connection's key is replaced by rotating it, never by losing it.
        return False

    @admin.display(description="state")
    def state(self, obj):
        return "active" if obj.is_active else "revoked"

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        issued = api_key_create(account=obj.account, name=obj.name)
        obj.pk = issued.api_key.pk
        obj.prefix = issued.api_key.prefix
        obj.created_at = issued.api_key.created_at
        reachable = (
            ""
            if settings.PUBLIC_URL
            else " That URL is the address this page came from; Dixa must reach it from the "
            "internet: set PUBLIC_URL to the platform's public https address."
        )
        self.message_user(
            request,
            "Copy this key now; it is stored hashed and will not be shown again: "
            f"{issued.plaintext} . In Dixa's webhook form: URL "
            f"{relay_url(request)} , authentication Token with this "
            f"key (or Basic with it as the password).{reachable}",
            messages.WARNING,
        )

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    @confirm_first(
        "Revoke",
        eligible=lambda keys: keys.filter(revoked_at=None),
        note="Each key stops working at once: anything still sending with it (a Dixa webhook) "
        "is answered 401 from then on. A revoked key cannot be restored; issue a new one.",
    )
    def revoke(self, request, queryset):
        revoked = 0
        for api_key in queryset.filter(revoked_at=None):
            api_key_revoke(api_key=api_key)
            revoked += 1
        audit_record(
            actor=request.user,
            action="API key revoke",
            objects=queryset,
            summary=f"Revoke {len(queryset)} selected API key(s)",
            result=f"{revoked} revoked (the others were revoked already)",
        )
        self.message_user(
            request, f"{revoked} key(s) revoked at {timezone.now():%Y-%m-%d %H:%M} UTC"
        )
