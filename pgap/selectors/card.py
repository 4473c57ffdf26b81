"""What the agent's card shows from our records: the customer's latest surveys (when, which
campaign, delivered or why not, and their answer once nps.today sent it) and the assigned
agent's recent P-GAP. Every read is limited to one account."""

from datetime import datetime, timedelta

from django.db.models import Avg, Count, Q
from django.utils import timezone

from integrations.dixa.conversation import Person
from integrations.models import Account
from ivr.models import SurveyTrigger
from pgap.models import PgapPair, PgapSetup, SurveyResponse

PGAP_PAIRS = 5
PGAP_DAYS = 90

# Why a survey is where it is, in the agent's words, by status (the trigger's reason adds
# the detail: "nps.today answered 400: …").
STATUS_TEXT = {
    SurveyTrigger.Status.PENDING: "waiting to be sent",
    SurveyTrigger.Status.SENDING: "being sent",
    SurveyTrigger.Status.DELIVERED: "delivered",
    SurveyTrigger.Status.HELD: "held: the nps.today key is disabled",
    SurveyTrigger.Status.FAILED: "not delivered",
    SurveyTrigger.Status.CANCELLED: "cancelled",
}


def _iso(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def _day(value: datetime | None) -> str:
    return f"{timezone.localtime(value):%Y-%m-%d}" if value else ""


def card_customer_surveys(*, account: Account, customer: Person, limit: int) -> list[dict]:
    """The customer's `limit` latest surveys in `account`, newest first, found by email
    (stored lower-cased) or phone (as Dixa sent it); [] for a customer we never surveyed."""
    match = Q()
    if customer.email:
        match |= Q(respondent_email=customer.email.lower())
    if customer.phone:
        match |= Q(respondent_phone=customer.phone)
    if not match or limit <= 0:
        return []
    triggers = list(
        SurveyTrigger.objects.filter(match, account=account)
        .select_related("mapping")
        .only(
            "created_at",
            "finished_at",
            "campaign_id",
            "csid",
            "status",
            "reason",
            "mapping__name",
            "mapping__campaign_name",
        )
        .order_by("-created_at")[:limit]
    )
    answers = {
        response.trigger_id: response
        for response in SurveyResponse.objects.filter(
            account=account, trigger__in=[t.pk for t in triggers]
        ).only("trigger_id", "rating", "comment", "rating_time")
    }
    return [_survey(trigger, answers.get(trigger.pk)) for trigger in triggers]


def _survey(trigger: SurveyTrigger, answer: SurveyResponse | None) -> dict:
    status = SurveyTrigger.Status(trigger.status)
    return {
        "created_at": _iso(trigger.created_at),
        "date": _day(trigger.created_at),
        "campaign_id": trigger.campaign_id,
        "campaign": trigger.mapping.campaign_name or trigger.mapping.name,
        "csid": trigger.csid,
        "status": status.value,
        "delivered": status == SurveyTrigger.Status.DELIVERED,
        "status_text": STATUS_TEXT[status],
        "reason": trigger.reason if status != SurveyTrigger.Status.DELIVERED else "",
        "delivered_at": _iso(trigger.finished_at)
        if status == SurveyTrigger.Status.DELIVERED
        else "",
        "answered": answer is not None,
        "score": answer.rating if answer else None,
        "comment": answer.comment if answer else "",
        "answered_at": _iso(answer.rating_time) if answer else "",
    }


def card_agent_pgap(*, account: Account, agent_email: str) -> dict | None:
    """The agent's latest P-GAP pairs and their numbers over the last PGAP_DAYS; None when
    the account has no P-GAP set up (or it is off)."""
    if not PgapSetup.objects.filter(account=account, enabled=True).exists():
        return None
    email = agent_email.lower()
    pairs = PgapPair.objects.filter(account=account, agent_email=email)
    since = timezone.now() - timedelta(days=PGAP_DAYS)
    numbers = pairs.filter(answered_at__gte=since).aggregate(
        pairs=Count("agent_score"),
        mean_agent=Avg("agent_score"),
        mean_customer=Avg("customer_score"),
        mean_gap=Avg("gap"),
        within_one=Count("gap", filter=Q(gap__gte=-1, gap__lte=1)),
    )
    recent = pairs.order_by("-answered_at").values(
        "csid", "agent_score", "customer_score", "gap", "answered_at"
    )[:PGAP_PAIRS]
    count = numbers["pairs"]
    return {
        "agent_email": email,
        "days": PGAP_DAYS,
        "count": count,
        "average_agent": _round(numbers["mean_agent"]),
        "average_customer": _round(numbers["mean_customer"]),
        "average_gap": _round(numbers["mean_gap"]),
        "within_one_percent": round(100 * numbers["within_one"] / count) if count else None,
        "recent": [
            {**pair, "answered_at": _iso(pair["answered_at"]), "date": _day(pair["answered_at"])}
            for pair in recent
        ],
    }


def _round(value) -> float | None:
    return None if value is None else round(float(value), 1)
