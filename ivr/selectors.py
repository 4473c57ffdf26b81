from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from ivr.models import IvrMapping, SurveyTrigger


def mappings_with_recent_counts(queryset: QuerySet[IvrMapping]) -> QuerySet[IvrMapping]:
    """Delivered and failed surveys per mapping over the last 24 hours."""
    since = timezone.now() - timedelta(hours=24)
    recent = Q(triggers__finished_at__gte=since)
    return queryset.annotate(
        delivered_24h=Count(
            "triggers", filter=recent & Q(triggers__status=SurveyTrigger.Status.DELIVERED)
        ),
        failed_24h=Count(
            "triggers", filter=recent & Q(triggers__status=SurveyTrigger.Status.FAILED)
        ),
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
