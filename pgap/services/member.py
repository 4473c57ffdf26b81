"""The agent's score in the campaign member: `custom` gains `"pGap": <0–10>` beside
`dixaConversationId`, when the survey's mapping is in P-GAP.

Registered with `ivr.member_extras`; asked before each try at nps.today. A survey whose
conversation's score is not final yet waits for it, at most the setup's `wait_seconds`
past the time the survey was due (its close plus the mapping's delay); then it goes
without, and its reason says so. A missing, invalid or unreadable score is never sent; the
survey goes at once, its reason naming why."""

from datetime import timedelta

from ivr.member_extras import Extra, Wait
from ivr.models import SurveyTrigger
from pgap.models import AgentPrediction
from pgap.services.setup import pgap_mapping_delay, pgap_setup_active

Status = AgentPrediction.Status
SCORE_FIELD = "pGap"
WHAT = "the agent's P-GAP score"


def survey_member_extras(trigger: SurveyTrigger) -> Extra | Wait | None:
    setup = pgap_setup_active(account_id=trigger.account_id)
    if setup is None or trigger.csid is None:
        return None
    delay_minutes = pgap_mapping_delay(setup, trigger.mapping_id)
    if delay_minutes is None:  # the mapping is not in P-GAP
        return None
    prediction = (
        AgentPrediction.objects.filter(account_id=trigger.account_id, csid=trigger.csid)
        .only("status", "score", "reason")
        .first()
    )
    if prediction is not None and prediction.status == Status.CAPTURED:
        return Extra(custom={SCORE_FIELD: prediction.score})
    if prediction is not None and prediction.status in (
        Status.MISSING,
        Status.INVALID,
        Status.FAILED,
    ):
        state = prediction.get_status_display().lower()
        return Extra(note=f"sent without {WHAT} ({state}: {prediction.reason})")
    due = trigger.created_at + timedelta(minutes=delay_minutes)
    return Wait(until=due + timedelta(seconds=setup.wait_seconds), reason=WHAT)
