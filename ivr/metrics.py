"""ivr's gauges for /metrics, read when scraped (integrations/metrics.py)."""

from integrations import metrics
from ivr.models import NpsTodayDelivery, SurveyTrigger


def _held():
    yield (), SurveyTrigger.objects.filter(status=SurveyTrigger.Status.HELD).count()


def _keys_disabled():
    yield (), NpsTodayDelivery.objects.filter(disabled_at__isnull=False).count()


def register() -> None:
    metrics.register_gauge(
        "relay_surveys_held",
        "Surveys held because their account's nps.today key is disabled.",
        _held,
    )
    metrics.register_gauge(
        "relay_npstoday_keys_disabled_now",
        "Accounts whose nps.today key is disabled.",
        _keys_disabled,
    )
