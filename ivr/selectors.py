from datetime import timedelta

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from ivr.models import IvrMapping, SurveyTrigger


def _finished_since(status: str, since) -> Coalesce:
    """The mapping's surveys in `status` finished since `since`: a count per mapping on the
    (mapping, finished_at) index, not a join over every survey."""
    counted = (
        SurveyTrigger.objects.filter(mapping=OuterRef("pk"), finished_at__gte=since, status=status)
        .order_by()
        .values("mapping")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def mappings_with_recent_counts(queryset: QuerySet[IvrMapping]) -> QuerySet[IvrMapping]:
    """Delivered and failed surveys per mapping over the last 24 hours."""
    since = timezone.now() - timedelta(hours=24)
    return queryset.annotate(
        delivered_24h=_finished_since(SurveyTrigger.Status.DELIVERED, since),
        failed_24h=_finished_since(SurveyTrigger.Status.FAILED, since),
    )


def dixa_queue_ids(account) -> list[str]:
    """The Dixa queues the account surveys: its Dixa subscription's queue filter."""
    return list(
        IvrMapping.objects.filter(account=account, enabled=True)
        .values_list("queue_id", flat=True)
        .distinct()
    )


def dixa_event_types(account) -> list[str]:
    """What the relay needs from Dixa: closes to survey, abandons to record the skip."""
    return ["ConversationClosed", "ConversationAbandoned"]
