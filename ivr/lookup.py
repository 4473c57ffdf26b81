"""The customer lookup: "why did (or didn't) this customer get a survey?". One search by
email, phone, csid or survey guid; for each close found, the decision chain laid out:
received → mapping → rule outcome → survey → tries → delivered.

Every read is an indexed lookup bounded by MAX_CLOSES, so the page makes the same handful of
queries whatever the tables hold; every read is limited to the accounts the user may see."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Q

from integrations.admin.scoping import visible_accounts
from integrations.admin.search import as_csid, as_email, as_uuid, phone_forms
from integrations.models import HandlerRun, InboundEvent
from ivr.models import DeliveryAttempt, IvrMapping, SurveyTrigger

MAX_CLOSES = 50
CLOSE_TYPES = ("ConversationClosed", "ConversationAbandoned")
SURVEY_HANDLER = "survey"


@dataclass
class Close:
    """One close and what became of it."""

    event: InboundEvent
    rule: HandlerRun | None = None
    mappings: list[IvrMapping] = field(default_factory=list)
    surveys: list[SurveyTrigger] = field(default_factory=list)

    @property
    def decision(self) -> str:
        if self.rule is None:
            return self.event.outcome_reason or self.event.get_status_display()
        return self.rule.reason or self.rule.get_outcome_display()


@dataclass
class Lookup:
    term: str
    kind: str  # what the term was read as: "email", "phone", "csid", "guid", "" (nothing)
    closes: list[Close]
    other_events: int  # the customer's events that are not closes (shown as a link)
    truncated: bool


def _kind(term: str) -> tuple[str, object]:
    for kind, parse in (("guid", as_uuid), ("email", as_email), ("csid", as_csid)):
        value = parse(term)
        if value is not None:
            return kind, value
    phones = phone_forms(term)
    return ("phone", phones) if phones else ("", None)


def _event_filter(kind: str, value, accounts: list[int], term: str = "") -> Q | None:
    scope = Q(account_id__in=accounts)
    if kind == "email":
        return scope & Q(requester_email=value)
    if kind == "phone":
        return scope & Q(requester_phone__in=value)
    if kind == "csid":
        # A number may also be a phone typed without its + (stored as Dixa sent it, with one).
        # The term as typed, not the number: a phone may start with zeros (00 45 …).
        phones = phone_forms(term or str(value)) or []
        return scope & (Q(csid=value) | Q(requester_phone__in=phones))
    if kind == "guid":
        survey = (
            SurveyTrigger.objects.filter(account_id__in=accounts, guid=value)
            .values("account_id", "csid", "inbound_event_id")
            .first()
        )
        if survey is None:
            return None
        if survey["csid"] is not None:
            return Q(account_id=survey["account_id"], csid=survey["csid"])
        return Q(pk=survey["inbound_event_id"])
    return None


def customer_lookup(*, user, term: str) -> Lookup:
    term = term.strip()
    kind, value = _kind(term)
    accounts = list(visible_accounts(user).values_list("pk", flat=True))
    found = _event_filter(kind, value, accounts, term) if kind else None
    if found is None:
        return Lookup(term=term, kind=kind, closes=[], other_events=0, truncated=False)
    events = list(
        InboundEvent.objects.filter(found, event_type__in=CLOSE_TYPES)
        .select_related("account")
        .defer("account__npstoday_api_key")
        .order_by("-received_at", "-pk")[: MAX_CLOSES + 1]
    )
    truncated = len(events) > MAX_CLOSES
    closes = [Close(event=e) for e in events[:MAX_CLOSES]]
    _attach(closes)
    others = InboundEvent.objects.filter(found).exclude(event_type__in=CLOSE_TYPES)
    return Lookup(
        term=term,
        kind=kind,
        closes=closes,
        other_events=others.order_by()[:1000].count(),
        truncated=truncated,
    )


def _attach(closes: list[Close]) -> None:
    """Rule outcomes, surveys with their tries, and the mappings: four queries in all."""
    if not closes:
        return
    by_event = {c.event.pk: c for c in closes}
    runs = HandlerRun.objects.filter(event_id__in=by_event, handler=SURVEY_HANDLER)
    for run in runs:
        by_event[run.event_id].rule = run

    surveys = list(
        SurveyTrigger.objects.filter(inbound_event_id__in=by_event)
        .select_related("mapping")
        .defer("payload", "mapping__dixa_api_token")
        .order_by("created_at", "pk")
    )
    tries = defaultdict(list)
    for attempt in (
        DeliveryAttempt.objects.filter(trigger__in=surveys)
        .only("trigger_id", "number", "created_at", "outcome", "response_status_code", "error")
        # In the order made: a resend numbers its tries from 1 again (1, 2, 3, 1).
        .order_by("trigger_id", "created_at", "pk")
    ):
        earlier = tries[attempt.trigger_id]
        attempt.restarted = attempt.number == 1 and bool(earlier)
        earlier.append(attempt)
    for survey in surveys:
        survey.tries = tries[survey.pk]
        by_event[survey.inbound_event_id].surveys.append(survey)

    queues = {(c.event.account_id, c.event.queue_id) for c in closes if c.event.queue_id}
    if queues:
        wanted = Q()
        for account_id, queue_id in queues:
            wanted |= Q(account_id=account_id, queue_id=queue_id)
        mappings = defaultdict(list)
        for mapping in IvrMapping.objects.filter(wanted).defer("dixa_api_token").order_by("name"):
            mappings[(mapping.account_id, mapping.queue_id)].append(mapping)
        for close in closes:
            close.mappings = mappings.get((close.event.account_id, close.event.queue_id), [])
