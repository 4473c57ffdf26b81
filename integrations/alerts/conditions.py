"""The conditions integrations watches itself: refused signatures and a silent webhook."""

from datetime import timedelta

from django.db.models import Count
from django.urls import reverse

from integrations.alerts.models import AlertSettings
from integrations.alerts.registry import Finding, register
from integrations.models import Account, InboundEvent, RejectedDelivery

DEFAULTS = AlertSettings()  # thresholds of accounts without settings of their own
TRAFFIC_WINDOW = timedelta(days=7)


def thresholds() -> dict[int, AlertSettings]:
    return {s.account_id: s for s in AlertSettings.objects.all()}


def signature_failures(*, now):
    limits = thresholds()
    counts = (
        RejectedDelivery.objects.filter(status_code=401, received_at__gte=now - timedelta(hours=1))
        .values("account_id")
        .annotate(n=Count("id"))
    )
    for row in counts:
        limit = limits.get(row["account_id"], DEFAULTS).signature_failures_per_hour
        if row["n"] >= limit:
            yield Finding(
                account_id=row["account_id"],
                detail=f"{row['n']} deliveries refused for their signature in the last hour "
                f"(alert at {limit}): is the signing secret the one Dixa shows?",
            )


def silent_webhook(*, now):
    """No delivery for `silent_hours` while the account had traffic in the week before. Two
    short range reads per account on the received_at index, never a scan of the week."""
    limits = thresholds()
    for account_id in Account.objects.values_list("pk", flat=True):
        hours = limits.get(account_id, DEFAULTS).silent_hours
        quiet_since = now - timedelta(hours=hours)
        events = InboundEvent.objects.filter(account_id=account_id)
        if events.filter(received_at__gte=quiet_since).exists():
            continue
        last = (
            events.filter(received_at__gte=now - TRAFFIC_WINDOW, received_at__lt=quiet_since)
            .order_by("-received_at")
            .values_list("received_at", flat=True)
            .first()
        )
        if last is not None:
            yield Finding(
                account_id=account_id,
                detail=f"no Dixa delivery since {last:%Y-%m-%d %H:%M} UTC (over {hours} h) "
                "after traffic in the week before: is the webhook still enabled in Dixa?",
            )


def _rejected_deliveries_page(account_id: int, subject: str) -> tuple[str, str]:
    listing = reverse("admin:integrations_rejecteddelivery_changelist")
    return "See the refused deliveries", f"{listing}?account__id__exact={account_id}"


def _account_page(account_id: int, subject: str) -> tuple[str, str]:
    return "Open the account", reverse("admin:integrations_account_change", args=[account_id])


def register_conditions() -> None:
    register(
        "signature_failures",
        "Signature failures",
        signature_failures,
        action=_rejected_deliveries_page,
    )
    register("silent_webhook", "Silent webhook", silent_webhook, action=_account_page)
