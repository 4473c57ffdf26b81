"""Count each day's closes, skips and surveys per account and mapping into DailyCount, so the
dashboard reads a few hundred small rows instead of the event and survey tables. Beat counts
today and yesterday every few minutes; `count_daily --days N` (re)counts further back."""

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Case, CharField, Count, Value, When
from django.utils import timezone

from integrations.models import HandlerRun, InboundEvent
from ivr.models import DailyCount, IvrMapping, SurveyTrigger

Metric = DailyCount.Metric
SURVEY_HANDLER = "survey"
CLOSED = "ConversationClosed"

# Skip reasons (ivr.rules and ivr.services.triggers) sorted into a few kinds, matched in SQL.
SKIP_KINDS = (
    ("quarantine", "quarantine"),
    ("already surveyed", "already surveyed"),
    ("no assigned agent", "no agent"),
    ("neither an email address nor a phone", "no email or phone"),
    ("is not surveyed by this mapping", "channel"),
    ("excluded tag", "excluded tag"),
    ("sample", "sampling"),
    ("no enabled IVR mapping", "no mapping"),
    ("has no queue", "no queue"),
    ("abandoned", "abandoned"),
)
SURVEY_STATUS_METRIC = {
    SurveyTrigger.Status.DELIVERED: Metric.DELIVERED,
    SurveyTrigger.Status.FAILED: Metric.DEAD,
}


def skip_kind():
    return Case(
        *(When(reason__contains=text, then=Value(kind)) for text, kind in SKIP_KINDS),
        default=Value("other"),
        output_field=CharField(),
    )


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
    return start, start + timedelta(days=1)


@transaction.atomic
def daily_counts_count(*, day: date, now: datetime | None = None) -> int:
    """Replace the day's counts with fresh ones. Returns how many rows it wrote."""
    now = now or timezone.now()
    start, end = day_bounds(day)
    mappings_by_queue = defaultdict(list)
    for pk, account_id, queue_id in IvrMapping.objects.values_list("pk", "account_id", "queue_id"):
        mappings_by_queue[(account_id, queue_id)].append(pk)

    counts: dict[tuple, int] = defaultdict(int)

    def add(account_id, queue_id, metric, reason, n):
        # A close counts for every mapping of its queue; closes of no mapping under None.
        for mapping_id in mappings_by_queue.get((account_id, queue_id)) or [None]:
            counts[(account_id, mapping_id, metric, reason)] += n

    closes = (
        InboundEvent.objects.filter(received_at__gte=start, received_at__lt=end, event_type=CLOSED)
        .values_list("account_id", "queue_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for account_id, queue_id, n in closes:
        add(account_id, queue_id, Metric.CLOSES, "", n)

    skips = (
        HandlerRun.objects.filter(
            event__received_at__gte=start,
            event__received_at__lt=end,
            handler=SURVEY_HANDLER,
            outcome=HandlerRun.Outcome.SKIPPED,
        )
        .annotate(kind=skip_kind())
        .values_list("event__account_id", "event__queue_id", "kind")
        .annotate(n=Count("id"))
        .order_by()
    )
    for account_id, queue_id, kind, n in skips:
        add(account_id, queue_id, Metric.SKIPPED, kind, n)

    surveys = (
        SurveyTrigger.objects.filter(created_at__gte=start, created_at__lt=end)
        .values_list("account_id", "mapping_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for account_id, mapping_id, status, n in surveys:
        counts[(account_id, mapping_id, Metric.SURVEYS, "")] += n
        if status in SURVEY_STATUS_METRIC:
            counts[(account_id, mapping_id, SURVEY_STATUS_METRIC[status], "")] += n

    DailyCount.objects.filter(day=day).delete()
    DailyCount.objects.bulk_create(
        DailyCount(
            account_id=account_id,
            mapping_id=mapping_id,
            day=day,
            metric=metric,
            reason=reason,
            count=n,
            counted_at=now,
        )
        for (account_id, mapping_id, metric, reason), n in counts.items()
    )
    return len(counts)


def daily_counts_refresh(*, days: int = 2, now: datetime | None = None) -> int:
    """Count the last `days` days (today included), each in its own transaction."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    return sum(
        daily_counts_count(day=today - timedelta(days=back), now=now) for back in range(days)
    )
