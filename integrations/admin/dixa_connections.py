"""Connect Dixa in the admin: the account's webhook subscription, its actions (Connect or
Repair, Rotate relay key, Replace subscription, Disconnect, Check now) as buttons on the
page and as list actions, Dixa's delivery status per event type, and Dixa's delivery logs
reconciled with what we stored. Actions run on the dixa queue; the page shows the outcome.

The two Disconnects stop Dixa's deliveries (and revoke the relay key; deleting also
deactivates the signing secret), so they ask first: the button opens a page naming what
will happen, and only its confirmation queues the action, as the list's bulk actions do
(confirm_first). Rotating the key and replacing the subscription stay one click: they keep
the connection delivering (old and new overlap) and are what a leaked credential needs
at once."""

from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from integrations import crypto
from integrations.admin import columns
from integrations.admin.confirm import CONFIRMED, confirm_first
from integrations.admin.events import RecordAdmin
from integrations.admin.forms import SecretFieldsForm
from integrations.admin.scoping import AccountScopedAdmin
from integrations.models import DixaConnection, DixaDeliveryLog, DixaDeliveryStatus
from integrations.selectors.dixa import (
    dixa_disconnect_targets,
    dixa_disconnectable,
    dixa_subscription_problems,
)
from integrations.services.dixa_actions import LABELS, dixa_action_request
from integrations.services.dixa_connect import PUBLIC_URL_MISSING

State = DixaConnection.State
COLOURS = {
    State.CONNECTED: "#2f855a",
    State.NOT_CONNECTED: "#666",
    State.DISCONNECTED: "#666",
}
BUTTONS = ("connect", "key_rotate", "subscription_replace", "watch", "disable", "delete")
ASK_FIRST = ("disable", "delete")  # Dixa stops delivering: a page says what happens first
# While an action requested here waits for the worker, its page reloads itself this often,
# for this long (after that Dixa is slow and the task retrying, or no worker takes the queue).
RELOAD_SECONDS = 3
RELOADS_FOR = timedelta(minutes=2)
# Past the task's retries (8, backing off to 5 minutes: about 15 minutes), a request with
# no answer was lost (no worker took it, or the broker lost the message).
ANSWERED_WITHIN = timedelta(minutes=20)
CONFIRM_TEMPLATE = "admin/integrations/dixaconnection/disconnect_confirm.html"
# What follows the bulk actions' counts on their confirmation page.
BULK_CONSEQUENCES = {
    "disable": "Dixa stops delivering each account's conversations to the relay and keeps "
    "the subscription, disabled (the next Connect finds it and enables it again with a new "
    "key); the relay keys it used are revoked.",
    "delete": "Dixa stops delivering each account's conversations to the relay and deletes "
    "the subscription (Connect makes a new one); the relay keys it used are revoked and its "
    "signing secrets deactivated.",
}


class DixaConnectionForm(SecretFieldsForm):
    secret_fields = ("api_token",)


def _when(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}" if moment else "—"


class DeliveryStatusInline(admin.TabularInline):
    model = DixaDeliveryStatus
    fields = ("event_type", "last_delivery", "success_at", "last_failure", "pulled")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "Dixa's delivery status, per event type (UTC)"

    @admin.display(description="last delivery")
    def last_delivery(self, obj):
        if obj.last_delivery_at is None:
            return "no recent delivery"
        colour = "#2f855a" if obj.last_success else "#ba2121"
        answer = f"{obj.last_response_code or 'no answer'} {obj.last_response_text}".strip()
        return format_html(
            '<span style="color:{}">{}</span> at {}', colour, answer, _when(obj.last_delivery_at)
        )

    @admin.display(description="last success")
    def success_at(self, obj):
        return _when(obj.last_success_at)

    @admin.display(description="last failure, Dixa's reason")
    def last_failure(self, obj):
        if obj.last_failure_at is None:
            return "—"
        return f"{_when(obj.last_failure_at)}: {obj.last_failure_reason}"

    @admin.display(description="pulled")
    def pulled(self, obj):
        return _when(obj.pulled_at)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        # Part of the connection's page: whoever may see the connection sees Dixa's view.
        return request.user.has_perm("integrations.view_dixaconnection") or request.user.has_perm(
            "integrations.change_dixaconnection"
        )


@admin.register(DixaConnection)
class DixaConnectionAdmin(AccountScopedAdmin):
    form = DixaConnectionForm
    inlines = [DeliveryStatusInline]
    list_display = ("account", "state_badge", "enabled_in_dixa", "queues", "checked_at", "problems")
    list_filter = ("state",)
    list_select_related = ("account",)
    ordering = ("account__name", "pk")
    search_fields = ("account__name", "subscription_id")
    actions = [f"action_{name}" for name in BUTTONS]
    change_form_template = "admin/integrations/dixaconnection/change_form.html"
    readonly_fields = (
        "state_badge",
        "detail",
        "problems",
        "subscription_id",
        "subscription_url",
        "subscribed_events",
        "queues_filtered",
        "enabled_in_dixa",
        "relay_key",
        "signing",
        "rotation",
        "synced_at",
        "checked_at",
        "status_pulled_at",
        "delivery_logs",
    )

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # Dixa has said nothing before Connect

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("account", "api_token")
        return ("account", "api_token", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (("account",) if obj else ())

    def has_delete_permission(self, request, obj=None):
        return False  # Disconnect is the way out; the record of the connection stays

    # --- columns -------------------------------------------------------------------------
    @admin.display(description="state", ordering="state")
    def state_badge(self, obj):
        if obj.state == State.CONNECTED and not obj.enabled:  # e.g. kept so: no enabled mapping
            return format_html('<strong style="color:#b7791f">{}</strong>', "Connected, disabled")
        colour = COLOURS.get(obj.state, "#ba2121")
        return format_html('<strong style="color:{}">{}</strong>', colour, obj.get_state_display())

    @admin.display(description="enabled in Dixa", boolean=True)
    def enabled_in_dixa(self, obj):
        """As Dixa last said; unknown (not ✗) before Dixa was ever asked."""
        if obj.synced_at is None and obj.checked_at is None:
            return None
        return obj.enabled

    @admin.display(description="queues")
    def queues(self, obj):
        return len(obj.queue_ids)

    @admin.display(description="problems")
    def problems(self, obj):
        found = dixa_subscription_problems(obj.account)
        if not found:
            return "—"
        return format_html_join("", '<div style="color:#ba2121">⚠ {}</div>', ((p,) for p in found))

    @admin.display(description="events")
    def subscribed_events(self, obj):
        return ", ".join(obj.events) or "—"

    @admin.display(description="queue filter (QueueId is one of)")
    def queues_filtered(self, obj):
        if obj.queue_ids:
            return ", ".join(obj.queue_ids)
        if not obj.subscription_id:
            return "— (Connect sets it to the queues of the account's enabled mappings)"
        return "— (no enabled mapping: kept disabled)"

    @admin.display(description="relay key")
    def relay_key(self, obj):
        return f"{obj.api_key.prefix}…" if obj.api_key else "—"

    @admin.display(description="signing secret")
    def signing(self, obj):
        if not obj.signing_secret:
            return "—"
        return f"{crypto.mask(obj.signing_secret.secret)} (signatures required)"

    @admin.display(description="rotation under way")
    def rotation(self, obj):
        if not obj.retiring_since:
            return "—"
        what = (
            f"old subscription {obj.retiring_subscription_id} (deleted after the overlap)"
            if obj.retiring_subscription_id
            else f"old key {obj.retiring_api_key.prefix if obj.retiring_api_key else '?'}…"
        )
        return f"since {obj.retiring_since:%Y-%m-%d %H:%M:%S} UTC: {what}"

    @admin.display(description="Dixa's delivery logs")
    def delivery_logs(self, obj):
        url = reverse("admin:integrations_dixadeliverylog_changelist")
        return format_html(
            '<a href="{}?connection__id__exact={}">every delivery Dixa logged, reconciled</a>',
            url,
            obj.pk,
        )

    # --- actions -------------------------------------------------------------------------
    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/dixa/<str:action>/",
                self.admin_site.admin_view(self.action_view),
                name="integrations_dixaconnection_action",
            )
        ]
        return urls + super().get_urls()

    def action_view(self, request, object_id, action):
        allowed = ["GET", "POST"] if action in ASK_FIRST else ["POST"]
        if request.method not in allowed:
            return HttpResponseNotAllowed(allowed)
        obj = self.get_object(request, object_id)
        if obj is None or action not in BUTTONS:
            raise PermissionDenied
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        if action in ASK_FIRST and request.POST.get(CONFIRMED) != "yes":
            return self._confirm(request, obj, action)
        self._request(request, obj, action)
        return HttpResponseRedirect(
            reverse("admin:integrations_dixaconnection_change", args=[obj.pk])
        )

    def _confirm(self, request, obj, action: str):
        """The page a Disconnect button opens: what Disconnect would do now, and the button
        that queues it."""
        delete = action == "delete"
        targets = dixa_disconnect_targets(obj, delete=delete)
        label = LABELS[action]
        context = {
            **self.admin_site.each_context(request),
            "title": f"{label} for {obj.account}?",
            "opts": self.opts,
            "original": obj,
            "description": label,
            "delete": delete,
            "subscription_ids": targets.subscription_ids,
            "api_keys": targets.api_keys,
            "secrets": [(secret, crypto.mask(secret.secret)) for secret in targets.secrets],
            "touched": len(targets.subscription_ids),
            "button": f"Yes, {label[0].lower()}{label[1:]}",
            "danger": True,
            "cancel_url": reverse("admin:integrations_dixaconnection_change", args=[obj.pk]),
            "confirmed_name": CONFIRMED,
        }
        return TemplateResponse(request, CONFIRM_TEMPLATE, context)

    def _request(self, request, obj, action: str) -> None:
        label = LABELS[action]
        if not dixa_action_request(account=obj.account, action=action):
            self.message_user(
                request,
                f"{label} for {obj.account} could not be queued (the task broker did not "
                "answer); try again in a minute.",
                messages.ERROR,
            )
            return
        self.log_change(request, obj, f"Dixa: {label} requested")
        self.message_user(
            request,
            f"{label} for {obj.account}: queued; the connection's page shows Dixa's answer "
            "when the worker has it.",
            messages.SUCCESS,
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Before there is a subscription in Dixa, Connect is the only thing to do.
        names = BUTTONS if obj is not None and obj.subscription_id else ("connect",)
        context["dixa_buttons"] = [(name, LABELS[name], name in ASK_FIRST) for name in names]
        if not settings.PUBLIC_URL:  # said before Connect is pressed, not after
            context["dixa_public_url_missing"] = PUBLIC_URL_MISSING
        # Only on a page loaded with GET: reloading a POST's answer would post it again.
        if obj is not None and obj.action_requested and request.method == "GET":
            context["dixa_pending"] = self._pending(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _pending(self, obj) -> dict:
        """The action requested here that the worker has not finished: what to say, and
        whether the page should reload itself to show the outcome."""
        label = LABELS.get(obj.action_requested, obj.action_requested)
        waited = timezone.now() - obj.action_requested_at
        requested = f"{label} requested at {obj.action_requested_at:%Y-%m-%d %H:%M:%S} UTC"
        if waited < RELOADS_FOR:
            return {
                "text": f"{requested}: waiting for the worker and Dixa. This page reloads "
                "itself until it is done.",
                "reload_seconds": RELOAD_SECONDS,
            }
        if waited < ANSWERED_WITHIN:
            return {
                "text": f"{requested} and not done after {int(waited.total_seconds() // 60)} "
                "minutes: Dixa may be busy (the action is tried again for up to about 15 "
                "minutes), or no worker takes the dixa queue (docs/operations.md). Reload to "
                "check.",
                "reload_seconds": 0,
            }
        return {
            "text": f"{requested} and never answered: the request was lost (no worker took "
            "it, or the broker lost it). Press the button again.",
            "reload_seconds": 0,
        }

    def _bulk(self, request, queryset, action):
        for obj in queryset.select_related("account"):
            self._request(request, obj, action)

    @admin.action(description="Connect / repair Dixa", permissions=["change"])
    def action_connect(self, request, queryset):
        self._bulk(request, queryset, "connect")

    @admin.action(description="Rotate the relay key", permissions=["change"])
    def action_key_rotate(self, request, queryset):
        self._bulk(request, queryset, "key_rotate")

    @admin.action(description="Replace the subscription (new secret)", permissions=["change"])
    def action_subscription_replace(self, request, queryset):
        self._bulk(request, queryset, "subscription_replace")

    @admin.action(
        description="Check now (subscription and delivery status)", permissions=["change"]
    )
    def action_watch(self, request, queryset):
        self._bulk(request, queryset, "watch")

    @admin.action(description="Disconnect (disable in Dixa)", permissions=["change"])
    @confirm_first(
        "Disconnect",
        detail="(disable in Dixa)",
        eligible=dixa_disconnectable,
        note=BULK_CONSEQUENCES["disable"],
    )
    def action_disable(self, request, queryset):
        self._bulk(request, dixa_disconnectable(queryset), "disable")

    @admin.action(description="Disconnect (delete in Dixa)", permissions=["change"])
    @confirm_first(
        "Disconnect",
        detail="(delete in Dixa)",
        eligible=dixa_disconnectable,
        note=BULK_CONSEQUENCES["delete"],
    )
    def action_delete(self, request, queryset):
        self._bulk(request, dixa_disconnectable(queryset), "delete")


@admin.register(DixaDeliveryLog)
class DixaDeliveryLogAdmin(columns.WideListMixin, RecordAdmin):
    list_display = (
        "delivered_at",
        "account",
        "event_type",
        "event_id",
        "success",
        "response_code",
        "response_text",
        "reconciliation",
    )
    list_filter = ("reconciliation", "success", "event_type", "connection")
    list_select_related = ("connection__account",)
    search_fields = ("=event_id",)
    show_full_result_count = False
    readonly_fields = list_display + ("subscription_id", "pulled_at")

    @admin.display(description="account")
    def account(self, obj):
        return obj.connection.account
