"""nps.today's subscriptions of an account's campaigns (those of its IVR mappings) to a
response hook: `POST /webhooks/subscriptions/responses`, `DELETE /webhooks/subscriptions/{id}`.

Only a hook's SHA-256 is stored, so a subscription is made when the secret is at hand: with
a hook just issued in the admin, or with a new hook issued for the purpose."""

from dataclasses import dataclass, field

from integrations.clients import npstoday
from integrations.clients.http import ApiUnavailable
from integrations.models import Account
from ivr.models import IvrMapping
from pgap.models import ResponseSubscription
from pgap.services.hooks import IssuedHook, response_hook_create, response_hook_revoke

State = ResponseSubscription.State


class SubscriptionError(Exception):
    """nps.today could not be asked, or refused; the message says why."""


@dataclass
class SubscribeResult:
    issued: IssuedHook | None = None  # the hook the new subscriptions post to
    subscribed: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    already: list[int] = field(default_factory=list)  # campaigns with an active subscription


def account_campaigns(account: Account) -> list[int]:
    """The campaigns of the account's IVR mappings, enabled or not (a disabled mapping's
    surveys may still be answered)."""
    mappings = IvrMapping.objects.filter(account=account)
    return sorted(set(mappings.values_list("campaign_id", flat=True)))


def response_subscriptions_create(
    *, account: Account, base_url: str, issued: IssuedHook | None = None
) -> SubscribeResult:
    """Subscribe every campaign of the account's mappings that has no active subscription
    to `issued` (a new hook when None). A hook issued here that no campaign took is revoked
    again. No transaction is held while nps.today is called."""
    api_key = account.npstoday_api_key
    if not api_key:
        raise SubscriptionError(f"{account} has no nps.today API key")
    active = set(
        ResponseSubscription.objects.filter(account=account, state=State.ACTIVE).values_list(
            "campaign_id", flat=True
        )
    )
    campaigns = account_campaigns(account)
    result = SubscribeResult(already=[c for c in campaigns if c in active])
    todo = [c for c in campaigns if c not in active]
    if not todo:
        return result
    made_here = issued is None
    result.issued = issued or response_hook_create(account=account)
    target_url = result.issued.url(base_url)
    for campaign_id in todo:
        row = _row(account, campaign_id)
        row.hook = result.issued.hook
        try:
            row.subscription_id = npstoday.subscribe_responses(api_key, campaign_id, target_url)
        except ApiUnavailable as exc:
            row.state, row.subscription_id, row.last_error = State.FAILED, "", str(exc)
            result.failed[campaign_id] = str(exc)
        else:
            row.state, row.last_error = State.ACTIVE, ""
            if not row.subscription_id:
                row.last_error = "nps.today named no subscription id: remove it in nps.today"
            result.subscribed.append(campaign_id)
        row.save()
    if made_here and not result.subscribed:
        response_hook_revoke(hook=result.issued.hook)
    return result


def _row(account: Account, campaign_id: int) -> ResponseSubscription:
    """The campaign's latest failed or removed subscription, reused; else a new one."""
    row = (
        ResponseSubscription.objects.filter(account=account, campaign_id=campaign_id)
        .exclude(state=State.ACTIVE)
        .order_by("-updated_at", "-pk")
        .first()
    )
    return row or ResponseSubscription(account=account, campaign_id=campaign_id)


def response_subscription_remove(*, subscription: ResponseSubscription) -> bool:
    """Delete the subscription in nps.today and mark it removed; False when it was not
    active. Raises SubscriptionError (and keeps the reason on the row) when nps.today
    cannot be asked or refuses."""
    if subscription.state != State.ACTIVE:
        return False
    if subscription.subscription_id:
        api_key = subscription.account.npstoday_api_key
        if not api_key:
            raise SubscriptionError(f"{subscription.account} has no nps.today API key")
        try:
            existed = npstoday.delete_subscription(api_key, subscription.subscription_id)
        except ApiUnavailable as exc:
            subscription.last_error = str(exc)
            subscription.save(update_fields=["last_error", "updated_at"])
            raise SubscriptionError(str(exc)) from exc
        subscription.last_error = "" if existed else "nps.today no longer had it"
    subscription.state = State.REMOVED
    subscription.save(update_fields=["state", "last_error", "updated_at"])
    return True
