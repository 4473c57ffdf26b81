"""Capturing the agent's P-GAP score of a conversation.

- `attribute_updated_capture` (ConversationCustomAttributeUpdated): the score as the event
  carries it, before or after the close, with no call to Dixa (source "event").
- `conversation_closed_capture` (ConversationClosed, in a P-GAP mapping only): completes the
  row with the close (mapping, queue, agent); when no event brought the score (nor the close
  itself), the row becomes pending: the outbox row of a read from Dixa.
- `prediction_capture` (worker, queue "dixa"): GET /v1/conversations/{csid}, within Dixa's
  rate limit per token across workers; 429 honours Retry-After, no answer and 5xx are
  retried RETRY_SPACING apart up to MAX_TRIES, 401/403/404 are final with their reason.

Every final state (captured, missing, invalid, failed) wakes the conversation's survey if
it is waiting for the score (`ivr.services.delivery.survey_triggers_wake`).
"""

import logging
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from integrations import outbox, ratelimit
from integrations.clients import dixa
from integrations.clients.http import ApiUnavailable
from integrations.dixa.conversation import Conversation, Person
from integrations.events import DixaEvent, HandlerResult
from ivr.retry_policy import Verdict, decide
from ivr.services.delivery import survey_triggers_wake
from pgap.models import AgentPrediction, PgapSetup
from pgap.services.pairs import pgap_pair_refresh
from pgap.services.score import Reading, attribute_find, score_read
from pgap.services.setup import dixa_token, pgap_mapping_for_queue, pgap_setup_active

logger = logging.getLogger(__name__)
Status = AgentPrediction.Status
Source = AgentPrediction.Source
FINAL = (Status.CAPTURED, Status.MISSING, Status.INVALID, Status.FAILED)
# The relay's discipline (Dixa's own webhook policy): 5 tries, a minute apart.
MAX_TRIES = 5
RETRY_SPACING = timedelta(seconds=60)


PREDICTIONS = outbox.register(
    outbox.Outbox(
        name="P-GAP captures",
        model=AgentPrediction,
        task="pgap.tasks.capture_predictions",
        settings_prefix="PGAP",
        pending=Q(status=Status.PENDING),
        schedule_field="next_attempt_at",
        claimed={"status": Status.FETCHING},
        claimed_at_field="fetch_started_at",
        attempts_field="attempt_count",
        release={"status": Status.PENDING},
        chunk=1,  # each read waits on Dixa: one per message spreads them over workers
    )
)


# --- the event handlers ---------------------------------------------------------------


def attribute_updated_capture(event: DixaEvent) -> HandlerResult:
    setup = pgap_setup_active(account_id=event.account_id)
    if setup is None:
        return HandlerResult.skipped("P-GAP is not set up (or is off) for this account")
    conversation = event.conversation
    present, raw = _attribute(setup, conversation)
    if not present:
        return HandlerResult.skipped(f"the update is not about {setup.attribute_identifier}")
    if conversation.csid is None:
        return HandlerResult.skipped("the event has no conversation id")
    mapping = pgap_mapping_for_queue(setup, conversation.queue_id)
    known = AgentPrediction.objects.filter(account_id=event.account_id, csid=conversation.csid)
    if conversation.queue_id and mapping is None and not known.exists():
        # (An event without its queue is kept: the close decides, and it saves a read.)
        return HandlerResult.skipped(f"queue {conversation.queue_id} is not in P-GAP")

    at = event.envelope.event_timestamp or timezone.now()
    prediction = _locked_row(event.account_id, conversation.csid)
    if prediction.status in FINAL and prediction.captured_at and at < prediction.captured_at:
        return HandlerResult.skipped("a newer value of the attribute was recorded already")
    reading = score_read(raw, options=setup.attribute_options)
    _agent(prediction, conversation.assignee)
    prediction.queue_id = prediction.queue_id or conversation.queue_id
    prediction.mapping = prediction.mapping or mapping
    prediction.inbound_event = event.record
    _apply_reading(prediction, reading, source=Source.EVENT, at=at)
    prediction.save()
    pgap_pair_refresh(account_id=prediction.account_id, csid=prediction.csid)
    if prediction.closed_at is not None:
        _wake_on_commit(prediction)
    return HandlerResult.handled(_describe(prediction))


def conversation_closed_capture(event: DixaEvent) -> HandlerResult:
    setup = pgap_setup_active(account_id=event.account_id)
    if setup is None:
        return HandlerResult.skipped("P-GAP is not set up (or is off) for this account")
    conversation = event.conversation
    mapping = pgap_mapping_for_queue(setup, conversation.queue_id)
    if mapping is None:
        return HandlerResult.skipped(
            f"queue {conversation.queue_id or '-'} is not in a P-GAP mapping"
        )
    if conversation.csid is None:
        return HandlerResult.skipped("the close has no conversation id")

    now = timezone.now()
    prediction = _locked_row(event.account_id, conversation.csid)
    prediction.mapping = mapping
    prediction.queue_id = conversation.queue_id
    prediction.closed_at = event.envelope.event_timestamp or now
    _agent(prediction, conversation.assignee, replace=True)

    if prediction.status == Status.CAPTURED and prediction.source == Source.EVENT:
        prediction.save()
        _wake_on_commit(prediction)
        return HandlerResult.handled(f"from the attribute event: {_describe(prediction)}")
    present, raw = _attribute(setup, conversation)
    reading = score_read(raw, options=setup.attribute_options) if present else None
    if reading is not None and reading.score is not None:  # the close carried it
        prediction.inbound_event = event.record
        _apply_reading(prediction, reading, source=Source.EVENT, at=prediction.closed_at)
        prediction.save()
        pgap_pair_refresh(account_id=prediction.account_id, csid=prediction.csid)
        _wake_on_commit(prediction)
        return HandlerResult.handled(f"from the close: {_describe(prediction)}")
    if prediction.source == Source.API:  # a close processed again: the read is on or done
        prediction.save()
        if prediction.status in FINAL:
            return HandlerResult.handled(f"already read from Dixa: {_describe(prediction)}")
        return HandlerResult.handled("the agent's score is being read from Dixa")

    # No score yet (or only an invalid or empty one from an event): Dixa's API has the word.
    prediction.inbound_event = event.record
    prediction.source = Source.API
    prediction.status = Status.PENDING
    prediction.score = None
    prediction.reason = "to read from Dixa"
    prediction.next_attempt_at = now
    prediction.queued_at = now
    prediction.attempt_count = 0
    prediction.save()
    PREDICTIONS.publish_on_commit([prediction.pk])
    return HandlerResult.handled("the agent's score is read from Dixa")


# --- the worker ----------------------------------------------------------------------


def prediction_capture(*, prediction_id: int) -> str | None:
    """One read from Dixa. Returns the prediction's new status, or None when it was not
    ours to read (someone else has it, or an event captured it meanwhile)."""
    if not PREDICTIONS.claim(prediction_id):
        return None
    prediction = AgentPrediction.objects.select_related("mapping").get(pk=prediction_id)
    setup = PgapSetup.objects.filter(account_id=prediction.account_id).first()
    token = dixa_token(setup, prediction.mapping) if setup else ""
    if not token:
        return _finish(
            prediction,
            Reading(None, "no Dixa API token: set one on the P-GAP setup or on the mapping"),
            failed=True,
        )
    ratelimit.wait_for_slot("dixa", token, limit=settings.DIXA_RATE_LIMIT)
    try:
        data = dixa.get_conversation(token, prediction.csid)
    except dixa.DixaError as exc:
        return _failed(prediction, status=exc.status, retry_after=exc.retry_after, error="")
    except ApiUnavailable as exc:
        return _failed(prediction, status=None, retry_after=None, error=str(exc))

    present, raw = attribute_find(
        data.get("customAttributes"),
        identifier=setup.attribute_identifier,
        attribute_id=setup.attribute_id,
    )
    if present:
        reading = score_read(raw, options=setup.attribute_options)
    else:
        reading = Reading(
            None,
            f"Dixa's conversation has no {setup.attribute_identifier} attribute",
            missing=True,
        )
    if not prediction.agent_id:
        assignment = data.get("assignment") if isinstance(data.get("assignment"), dict) else {}
        prediction.agent_id = str(assignment.get("agentId") or "")[:64]
    return _finish(prediction, reading)


def _failed(prediction, *, status: int | None, retry_after: str | None, error: str):
    now = timezone.now()
    if status in (401, 403):
        reason = f"Dixa refused the token (HTTP {status})"
        return _finish(prediction, Reading(None, reason), failed=True)
    if status == 404:
        reason = f"Dixa has no conversation {prediction.csid} (HTTP 404)"
        return _finish(prediction, Reading(None, reason), failed=True)
    decision = decide(
        status=status,
        error=error,
        retry_after_header=retry_after,
        attempt=prediction.attempt_count,
        max_attempts=MAX_TRIES,
        spacing=RETRY_SPACING,
        now=now,
    )
    if decision.verdict is not Verdict.RETRY:
        return _finish(prediction, Reading(None, f"Dixa: {decision.reason}"), failed=True)
    wait = max(0.0, (decision.next_attempt_at - now).total_seconds())
    countdown = wait <= settings.SURVEY_COUNTDOWN_MAX_SECONDS
    with transaction.atomic():
        AgentPrediction.objects.filter(pk=prediction.pk, status=Status.FETCHING).update(
            status=Status.PENDING,
            reason=f"Dixa: {decision.reason}",
            next_attempt_at=decision.next_attempt_at,
            queued_at=decision.next_attempt_at if countdown else None,
        )
        if countdown:
            PREDICTIONS.publish_on_commit([prediction.pk], countdown=wait)
    return Status.PENDING


def _finish(prediction: AgentPrediction, reading: Reading, *, failed: bool = False) -> str:
    """Write the outcome, unless an event captured the score meanwhile."""
    _apply_reading(prediction, reading, source=Source.API, at=timezone.now())
    if failed:
        prediction.status = Status.FAILED
    updated = AgentPrediction.objects.filter(pk=prediction.pk, status=Status.FETCHING).update(
        status=prediction.status,
        score=prediction.score,
        reason=prediction.reason,
        source=prediction.source,
        captured_at=prediction.captured_at,
        agent_id=prediction.agent_id,
        next_attempt_at=None,
    )
    if updated:
        pgap_pair_refresh(account_id=prediction.account_id, csid=prediction.csid)
        survey_triggers_wake(account_id=prediction.account_id, csid=prediction.csid)
    return prediction.status


# --- helpers --------------------------------------------------------------------------


def _attribute(setup: PgapSetup, conversation: Conversation) -> tuple[bool, object]:
    return attribute_find(
        conversation.custom_attributes,
        identifier=setup.attribute_identifier,
        attribute_id=setup.attribute_id,
    )


def _locked_row(account_id: int, csid: int) -> AgentPrediction:
    """The conversation's prediction, locked until the handler's transaction ends; a new,
    inert one (pending without a due time) when there is none yet."""
    rows = AgentPrediction.objects.select_for_update()
    for _ in range(2):
        prediction = rows.filter(account_id=account_id, csid=csid).first()
        if prediction is not None:
            return prediction
        try:
            with transaction.atomic():
                return AgentPrediction.objects.create(account_id=account_id, csid=csid)
        except IntegrityError:  # a concurrent handler made it: lock that one
            continue
    return rows.get(account_id=account_id, csid=csid)


def _agent(prediction: AgentPrediction, person: Person | None, *, replace: bool = False) -> None:
    """The agent from the conversation's assignee (the close's is the one who closed)."""
    if person is None or not (replace or not prediction.agent_email):
        return
    prediction.agent_id = (person.id or prediction.agent_id)[:64]
    prediction.agent_email = (person.email or prediction.agent_email).lower()[:254]
    prediction.agent_name = (person.name or prediction.agent_name)[:200]


def _apply_reading(
    prediction: AgentPrediction, reading: Reading, *, source: str, at: datetime
) -> None:
    prediction.source = source
    prediction.score = reading.score
    prediction.captured_at = at
    prediction.next_attempt_at = None
    if reading.score is not None:
        prediction.status, prediction.reason = Status.CAPTURED, ""
    elif reading.missing:
        prediction.status, prediction.reason = Status.MISSING, reading.problem
    else:
        prediction.status, prediction.reason = Status.INVALID, reading.problem


def _describe(prediction: AgentPrediction) -> str:
    if prediction.status == Status.CAPTURED:
        return f"the agent's score is {prediction.score}"
    return f"{prediction.get_status_display().lower()}: {prediction.reason}"


def _wake_on_commit(prediction: AgentPrediction) -> None:
    transaction.on_commit(
        partial(survey_triggers_wake, account_id=prediction.account_id, csid=prediction.csid)
    )


# --- operations ------------------------------------------------------------------------


def predictions_readable_again(queryset):
    """The predictions of `queryset` whose score could not be had (failed, missing, invalid):
    those predictions_read_again reads again."""
    return queryset.filter(status__in=[Status.FAILED, Status.MISSING, Status.INVALID])


@transaction.atomic
def predictions_read_again(*, queryset, by: str) -> int:
    """Scores that could not be had are read from Dixa again, with fresh tries. Returns how
    many. The rows are locked first: one captured meanwhile keeps its score."""
    now = timezone.now()
    rows = AgentPrediction.objects.filter(pk__in=queryset.values("pk"))
    pks = list(predictions_readable_again(rows).select_for_update().values_list("pk", flat=True))
    AgentPrediction.objects.filter(pk__in=pks).update(
        status=Status.PENDING,
        source=Source.API,
        score=None,
        reason=f"read again by {by}",
        attempt_count=0,
        next_attempt_at=now,
        queued_at=now,
    )
    PREDICTIONS.publish_on_commit(pks)
    return len(pks)  # none was captured: no pair to refresh
