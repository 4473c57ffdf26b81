import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from integrations.clients import dixa, npstoday
from ivr.models import IvrMapping, SurveyTrigger

logger = logging.getLogger(__name__)
# How long the queues of a Dixa token and the campaigns of an nps.today key are kept.
OPTIONS_SECONDS = 60


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


def surveys_made_from(event) -> list[tuple[str, str]]:
    """The event's surveys, linked (its admin page's "made from it")."""
    surveys = SurveyTrigger.objects.filter(inbound_event=event, account_id=event.account_id)
    return [
        (str(survey), reverse("admin:ivr_surveytrigger_change", args=[survey.pk]))
        for survey in surveys.only("pk", "guid", "status").order_by("pk")[:20]
    ]


def _cached(kind: str, api_url: str, secret: str, load):
    """`load()`, kept OPTIONS_SECONDS under a digest of the API's URL and `secret` (never the
    secret itself). Failures are not kept; a cache that cannot be reached is skipped."""
    digest = hashlib.sha256(f"{api_url}\n{secret}".encode()).hexdigest()
    key = f"ivr-options:{kind}:{digest}"
    try:
        found = cache.get(key)
    except Exception:  # noqa: BLE001  (a cache outage must not break the form)
        logger.warning("cache unavailable: %s options loaded without it", kind)
        return load()
    if found is None:
        found = load()
        try:
            cache.set(key, found, OPTIONS_SECONDS)
        except Exception:  # noqa: BLE001
            logger.warning("cache unavailable: %s options not kept", kind)
    return found


def dixa_queues(token: str) -> list[dixa.Queue]:
    """The queues Dixa offers `token` (cached). Raises ApiUnavailable (`status` set for an
    error answer: 401/403 a refused token)."""
    return _cached("dixa-queues", settings.DIXA_API_URL, token, lambda: dixa.list_queues(token))


def npstoday_campaigns(api_key: str) -> list[npstoday.Campaign]:
    """The campaigns `api_key` can see in nps.today (cached). Raises ApiUnavailable."""
    return _cached(
        "npstoday-campaigns",
        settings.NPSTODAY_API_URL,
        api_key,
        lambda: npstoday.list_campaigns(api_key),
    )
