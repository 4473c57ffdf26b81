"""P-GAP admin: the customer's answers, the hooks nps.today posts them to (issued here, the
URL shown once) and nps.today's subscriptions of the account's campaigns."""

from functools import partial

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.html import format_html

from integrations.admin import columns
from integrations.admin.confirm import confirm_first
from integrations.admin.events import RecordAdmin, pretty_json, truncate
from integrations.audit.services import audit_record
from integrations.public_url import public_base
from pgap.models import ResponseHook, ResponseSubscription, SurveyResponse
from pgap.services.hooks import IssuedHook, response_hook_create, response_hook_revoke
from pgap.services.subscriptions import (
    SubscribeResult,
    SubscriptionError,
    response_subscription_remove,
    response_subscriptions_create,
)


def removable(subscriptions):
    """The subscriptions Remove would change: those still active."""
    return subscriptions.filter(state=ResponseSubscription.State.ACTIVE)


class MatchedFilter(admin.SimpleListFilter):
    title = "match"
    parameter_name = "matched"

    def lookups(self, request, model_admin):
        return [("yes", "Matched to a survey"), ("no", "Unmatched")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(matched_by=SurveyResponse.Match.NONE)
        if self.value() == "no":
            return queryset.filter(matched_by=SurveyResponse.Match.NONE)
        return queryset


@admin.register(SurveyResponse)
class SurveyResponseAdmin(columns.WideListMixin, RecordAdmin):
    show_full_result_count = False
    list_select_related = ("account",)
    list_display = (
        "received_at",
        "response_id",
        "campaign_id",
        "rating",
        "short_comment",
        "match",
        "csid",
        "account",
    )
    list_filter = (MatchedFilter, "matched_by", "account")
    search_fields = ("response_id", "=csid", "respondent_email", "respondent_external_id")
    date_hierarchy = "received_at"
    fieldsets = (
        (None, {"fields": ("account", "response_id", "campaign_id", "received_at", "updated_at")}),
        ("Answer", {"fields": ("rating", "comment", "rating_time", "agent_rating")}),
        (
            "Match",
            {
                "fields": (
                    "matched_by",
                    "trigger",
                    "csid",
                    "respondent_email",
                    "respondent_external_id",
                )
            },
        ),
        ("As nps.today sent it", {"fields": ("body",)}),
    )
    readonly_fields = tuple(f for fs in fieldsets for f in fs[1]["fields"])

    def get_queryset(self, request):
        return super().get_queryset(request).defer("payload")

    @admin.display(description="comment")
    def short_comment(self, obj):
        return truncate(obj.comment, 60)

    @admin.display(description="matched by", ordering="matched_by")
    def match(self, obj):
        if obj.matched_by:
            return obj.get_matched_by_display()
        return format_html('<span style="color:{}">{}</span>', "#b7791f", "unmatched")

    @admin.display(description="body")
    def body(self, obj):
        return pretty_json(obj.payload)


class HookIssueForm(forms.ModelForm):
    subscribe = forms.BooleanField(
        required=False,
        initial=True,
        label="Subscribe the campaigns of the account's IVR mappings to it",
        help_text="Asks nps.today to post each campaign's new responses to this hook (campaigns "
        "with an active subscription are left alone).",
    )

    class Meta:
        model = ResponseHook
        fields = ("account",)


@admin.register(ResponseHook)
class ResponseHookAdmin(RecordAdmin):
    """Issuing a hook is its add form: the URL (with the secret) is shown once."""

    list_display = ("prefix_shown", "account", "created_at", "state", "active_subscriptions")
    list_filter = ("account",)
    list_select_related = ("account",)
    search_fields = ("prefix",)
    actions = ["revoke"]

    def has_add_permission(self, request):
        return request.user.has_perm(f"pgap.{get_permission_codename('add', self.opts)}")

    def get_queryset(self, request):
        active = Count("subscriptions", filter=Q(subscriptions__state="active"))
        # GROUP BY drops Meta.ordering: ordered again for the autocomplete's paginator.
        return super().get_queryset(request).annotate(active_count=active).order_by("-created_at")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = HookIssueForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("account", "subscribe")
        return ("account", "prefix", "created_at", "revoked_at", "state")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.get_fields(request, obj)

    @admin.display(description="hook", ordering="prefix")
    def prefix_shown(self, obj):
        return f"{obj.prefix}…"

    @admin.display(description="state")
    def state(self, obj):
        return "active" if obj.revoked_at is None else f"revoked {obj.revoked_at:%Y-%m-%d %H:%M}"

    @admin.display(description="active subscriptions", ordering="active_count")
    def active_subscriptions(self, obj):
        return getattr(obj, "active_count", None)

    def save_model(self, request, obj, form, change):
        issued = response_hook_create(account=obj.account)
        for name in ("pk", "prefix", "secret_hash", "created_at"):
            setattr(obj, name, getattr(issued.hook, name))
        subscribe = form.cleaned_data.get("subscribe")
        once = "it holds a secret that is stored hashed and will not be shown again"
        url = issued.url(public_base(request))
        if subscribe:
            message = f"Subscribe gives nps.today this URL (see below); {once}: {url}"
        else:
            message = f"Give nps.today this URL now; {once}: {url}"
        self.message_user(request, message, messages.INFO if subscribe else messages.WARNING)
        if subscribe:
            # After the commit: the hook must exist before nps.today can post to it.
            transaction.on_commit(partial(self._subscribe, request, obj.account, issued))

    def _subscribe(self, request, account, issued: IssuedHook) -> None:
        try:
            result = response_subscriptions_create(
                account=account, base_url=public_base(request), issued=issued
            )
        except SubscriptionError as exc:
            self.message_user(request, f"Nothing subscribed: {exc}", messages.ERROR)
        else:
            report(self, request, result)
            if result.subscribed and not result.failed:
                return
        self.message_user(
            request,
            "Give nps.today the hook's URL above yourself for any campaign not subscribed to it.",
            messages.WARNING,
        )

    @admin.action(description="Revoke selected hooks", permissions=["operate"])
    @confirm_first(
        "Revoke",
        eligible=lambda hooks: hooks.filter(revoked_at=None),
        note="nps.today's posts to each hook's URL are refused from then on, so answers to "
        "the campaigns it serves stop arriving until they are subscribed to another hook. "
        "A revoked hook cannot be restored.",
    )
    def revoke(self, request, queryset):
        revoked = [hook for hook in queryset if response_hook_revoke(hook=hook)]
        audit_record(
            actor=request.user,
            action="response hook revoke",
            objects=queryset,
            summary=f"Revoke {len(queryset)} selected response hook(s)",
            result=f"{len(revoked)} revoked",
        )
        self.message_user(
            request, f"{len(revoked)} hook(s) revoked at {timezone.now():%Y-%m-%d %H:%M} UTC"
        )
        still = ResponseSubscription.objects.filter(
            hook__in=revoked, state=ResponseSubscription.State.ACTIVE
        ).count()
        if still:
            self.message_user(
                request,
                f"{still} active subscription(s) still post to revoked hooks (answered 401): "
                "remove them under nps.today response subscriptions.",
                messages.WARNING,
            )


def report(model_admin, request, result: SubscribeResult) -> None:
    """Tell the admin what a subscribe did."""
    if result.subscribed:
        model_admin.message_user(
            request,
            f"Subscribed campaign(s) {_ids(result.subscribed)} to response hook "
            f"{result.issued.hook}: nps.today now posts their new responses to it.",
            messages.SUCCESS,
        )
    for campaign_id, reason in result.failed.items():
        model_admin.message_user(
            request, f"Campaign {campaign_id} not subscribed: {reason}", messages.ERROR
        )
    if result.already and not (result.subscribed or result.failed):
        model_admin.message_user(
            request, f"Campaign(s) {_ids(result.already)} already have an active subscription."
        )
    if not (result.subscribed or result.failed or result.already):
        model_admin.message_user(request, "The account has no IVR mappings.", messages.WARNING)


def _ids(ids) -> str:
    return ", ".join(str(i) for i in ids)


@admin.register(ResponseSubscription)
class ResponseSubscriptionAdmin(columns.WideListMixin, RecordAdmin):
    list_display = (
        "campaign_id",
        "account",
        "state",
        "hook_state",
        "short_error",
        "updated_at",
    )
    list_filter = ("state", "account")
    list_select_related = ("account", "hook")
    search_fields = ("=campaign_id", "subscription_id")
    fields = (
        "account",
        "campaign_id",
        "state",
        "subscription_id",
        "hook",
        "last_error",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    actions = ["subscribe", "remove"]

    @admin.display(description="hook")
    def hook_state(self, obj):
        if obj.hook.revoked_at is None:
            return str(obj.hook)
        return format_html('<span style="color:{}">{} (revoked)</span>', "#ba2121", obj.hook)

    @admin.display(description="last error")
    def short_error(self, obj):
        return truncate(obj.last_error, 80)

    @admin.action(
        description="Subscribe campaigns of this account's mappings", permissions=["operate"]
    )
    def subscribe(self, request, queryset):
        accounts = {row.account_id: row.account for row in queryset.select_related("account")}
        for account in accounts.values():
            try:
                result = response_subscriptions_create(
                    account=account, base_url=public_base(request)
                )
            except SubscriptionError as exc:
                self.message_user(request, f"{account}: nothing subscribed: {exc}", messages.ERROR)
                continue
            report(self, request, result)
            audit_record(
                actor=request.user,
                action="response subscribe",
                objects=[account],
                summary=f"Subscribe the campaigns of {account}'s mappings",
                result=f"{len(result.subscribed)} subscribed, {len(result.already)} already, "
                f"{len(result.failed)} failed",
            )

    @admin.action(description="Remove subscription", permissions=["operate"])
    @confirm_first(
        "Remove",
        detail="in nps.today",
        eligible=removable,
        note="nps.today stops posting each campaign's answers to the relay; for a mapped "
        "campaign, Subscribe adds the subscription again.",
    )
    def remove(self, request, queryset):
        removed = 0
        for subscription in queryset.select_related("account"):
            try:
                removed += response_subscription_remove(subscription=subscription)
            except SubscriptionError as exc:
                self.message_user(
                    request,
                    f"Campaign {subscription.campaign_id} not removed: {exc}",
                    messages.ERROR,
                )
        audit_record(
            actor=request.user,
            action="response subscription remove",
            objects=queryset,
            summary=f"Remove {len(queryset)} selected subscription(s) in nps.today",
            result=f"{removed} removed",
        )
        self.message_user(request, f"{removed} subscription(s) removed")
