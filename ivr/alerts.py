"""The survey side's alert conditions: a disabled nps.today key, dead letters and failed
tries at nps.today. Registered with integrations.alerts in IvrConfig.ready()."""

from datetime import timedelta

from django.db.models import Count, Q
from django.urls import reverse

from integrations import retention
from integrations.alerts import Finding, register
from integrations.alerts.conditions import DEFAULTS, thresholds
from ivr.models import DeliveryAttempt, NpsTodayDelivery, SurveyTrigger

HOUR = timedelta(hours=1)
# Fewer tries than this in an hour say nothing about a failure rate.
MIN_TRIES_FOR_RATE = 20


def npstoday_key_disabled(*, now):
    for delivery in NpsTodayDelivery.objects.exclude(disabled_at=None):
        yield Finding(
            account_id=delivery.account_id,
            detail=f"{delivery.disabled_reason or 'repeated refusals'}. Surveys are held until "
            "the key is re-enabled.",
        )


def dead_letters(*, now):
    limits = thresholds()
    counts = (
        SurveyTrigger.objects.filter(
            status=SurveyTrigger.Status.FAILED, finished_at__gte=now - HOUR
        )
        .values("account_id")
        .annotate(n=Count("id"))
    )
    for row in counts:
        limit = limits.get(row["account_id"], DEFAULTS).dead_letters_per_hour
        if row["n"] >= limit:
            yield Finding(
                account_id=row["account_id"],
                detail=f"{row['n']} dead letters in the last hour (alert at {limit})",
            )


def failure_rate(*, now):
    limits = thresholds()
    failed = Q(outcome__in=[DeliveryAttempt.Outcome.RETRY, DeliveryAttempt.Outcome.FAILED])
    # Attempts have no index on created_at (it would cost every try an index entry); keys
    # follow time, so the hour starts at a key found by bisecting the primary key.
    first = retention.first_pk_since(DeliveryAttempt.objects.all(), "created_at", now - HOUR)
    if first is None:
        return
    rows = (
        DeliveryAttempt.objects.filter(pk__gte=first, created_at__gte=now - HOUR)
        .exclude(outcome=DeliveryAttempt.Outcome.IN_FLIGHT)
        .values("trigger__account_id")
        .annotate(tries=Count("id"), failed=Count("id", filter=failed))
    )
    for row in rows:
        percent = limits.get(row["trigger__account_id"], DEFAULTS).failure_rate_percent
        if row["tries"] >= MIN_TRIES_FOR_RATE and row["failed"] * 100 > percent * row["tries"]:
            yield Finding(
                account_id=row["trigger__account_id"],
                detail=f"{row['failed']} of {row['tries']} tries at nps.today failed in the "
                f"last hour (alert above {percent} %)",
            )


def _delivery_page(account_id: int, subject: str) -> tuple[str, str]:
    return "Re-enable it", reverse("admin:ivr_npstodaydelivery_change", args=[account_id])


def _dead_letters_page(account_id: int, subject: str) -> tuple[str, str]:
    listing = reverse("admin:ivr_surveytrigger_changelist")
    return "See the dead letters", f"{listing}?account__id__exact={account_id}&status__exact=failed"


def _surveys_page(account_id: int, subject: str) -> tuple[str, str]:
    listing = reverse("admin:ivr_surveytrigger_changelist")
    return "See the surveys", f"{listing}?account__id__exact={account_id}"


def register_conditions() -> None:
    register(
        "npstoday_key_disabled",
        "nps.today key disabled",
        npstoday_key_disabled,
        action=_delivery_page,
    )
    register("dead_letters", "Dead letters", dead_letters, action=_dead_letters_page)
    register("failure_rate", "Failure rate at nps.today", failure_rate, action=_surveys_page)
