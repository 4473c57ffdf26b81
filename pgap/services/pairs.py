"""The P-GAP pair of a conversation: the agent's captured prediction beside the customer's
matched answer. Refreshed by the response intake and by the capture (whichever comes last
makes the pair); the customer's score may then be written back to Dixa."""

import logging
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import F

from integrations.services.queueing import enqueue
from pgap.models import AgentPrediction, PgapPair, PgapSetup, SurveyResponse

logger = logging.getLogger(__name__)


@transaction.atomic
def pgap_pair_refresh(*, account_id: int, csid: int) -> PgapPair | None:
    """Make, update or remove the pair of (account, csid) to match what is stored now: the
    latest matched response with a rating, and the captured prediction with a score. The
    pair's id goes to the write-back task (after the commit) when the pair is new or the
    customer's score or response changed, and the account writes scores back."""
    response = (
        SurveyResponse.objects.filter(account_id=account_id, csid=csid, rating__isnull=False)
        .exclude(matched_by=SurveyResponse.Match.NONE)
        .select_related("trigger")
        .order_by(F("rating_time").desc(nulls_last=True), "-pk")
        .first()
    )
    prediction = AgentPrediction.objects.filter(
        account_id=account_id,
        csid=csid,
        status=AgentPrediction.Status.CAPTURED,
        score__isnull=False,
    ).first()
    if response is None or prediction is None:
        PgapPair.objects.filter(account_id=account_id, csid=csid).delete()
        return None
    values = _values(prediction, response)
    pair = _locked(account_id, csid)
    if pair is None:
        try:
            with transaction.atomic():
                pair = PgapPair.objects.create(account_id=account_id, csid=csid, **values)
        except IntegrityError:
            pair = _locked(account_id, csid)  # made by a concurrent refresh
            if pair is None:
                raise
        else:
            _write_back(pair)
            return pair
    changed = (pair.response_id, pair.customer_score) != (response.pk, response.rating)
    for name, value in values.items():
        setattr(pair, name, value)
    pair.save()
    if changed:
        _write_back(pair)
    return pair


def _locked(account_id: int, csid: int) -> PgapPair | None:
    return PgapPair.objects.select_for_update().filter(account_id=account_id, csid=csid).first()


def _values(prediction: AgentPrediction, response: SurveyResponse) -> dict:
    trigger = response.trigger
    return {
        "prediction": prediction,
        "response": response,
        "mapping_id": prediction.mapping_id or (trigger.mapping_id if trigger else None),
        "queue_id": prediction.queue_id,
        "agent_email": prediction.agent_email,
        "agent_name": prediction.agent_name,
        "agent_score": prediction.score,
        "customer_score": response.rating,
        "gap": prediction.score - response.rating,
        "answered_at": response.rating_time or response.received_at,
    }


def _write_back(pair: PgapPair) -> None:
    """Queue the customer's score for Dixa (pgap.tasks, when the account asks for it)."""
    wanted = (
        PgapSetup.objects.filter(account_id=pair.account_id)
        .exclude(write_back_attribute_id="")
        .exists()
    )
    if not wanted:
        return
    try:
        from pgap.tasks import write_back_customer_score
    except ImportError:  # the task is not deployed yet: nothing to queue
        logger.warning("write-back of pair %s skipped: pgap.tasks has no task", pair.pk)
        return
    # `enqueue` logs a broker outage instead of raising it into the webhook's answer (Django's
    # own robust=True can't: it names the callback by __qualname__, which a partial lacks).
    transaction.on_commit(partial(enqueue, write_back_customer_score, pair.pk))
