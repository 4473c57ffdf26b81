"""From a stored ConversationClosed event to survey triggers: one per mapping of the queue
whose rules pass, or a recorded reason why not."""

import hashlib
import logging
import uuid
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from integrations.dixa.conversation import Conversation
from integrations.events import DixaEvent, HandlerResult
from integrations.models import InboundEvent
from ivr import rules
from ivr.member import campaign_member
from ivr.models import IvrMapping, SurveyTrigger
from ivr.services.delivery import SURVEYS

logger = logging.getLogger(__name__)
Status = SurveyTrigger.Status
# Triggers that count as "surveyed" for quarantine: sent, or on their way.
LIVE_STATUSES = (Status.PENDING, Status.SENDING, Status.DELIVERED, Status.HELD)
QUARANTINE = "quarantine: "


def conversation_closed_handle(event: DixaEvent) -> HandlerResult:
    conversation = event.conversation
    if not conversation.queue_id:
        _log_skip(event, None, "no queue")
        return HandlerResult.skipped("the conversation has no queue, so no IVR mapping applies")
    mappings = list(
        IvrMapping.objects.filter(
            account_id=event.account_id, queue_id=conversation.queue_id, enabled=True
        ).order_by("name", "pk")  # not Meta's ordering, which joins the account
    )
    if not mappings:
        _log_skip(event, None, f"no enabled IVR mapping for queue {conversation.queue_id}")
        return HandlerResult.skipped(f"no enabled IVR mapping for queue {conversation.queue_id}")

    created, skipped = [], []
    for mapping in mappings:
        outcome = survey_trigger_create(
            event=event.record, mapping=mapping, conversation=conversation
        )
        if isinstance(outcome, SurveyTrigger):
            created.append((mapping, outcome))
            logger.info(
                "survey created: account %s, event %s, mapping %s, survey %s, campaign %s%s",
                event.account_id,
                event.record.pk,
                mapping.pk,
                outcome.pk,
                mapping.campaign_id,
                f", sent in {mapping.delay_minutes} min" if mapping.delay_minutes else "",
            )
        else:
            skipped.append((mapping, outcome))
            _log_skip(event, mapping, outcome)
    if created:
        notes = [f"survey #{t.pk} to campaign {m.campaign_id}" for m, t in created]
        notes += [f"{m.name}: skipped, {reason}" for m, reason in skipped]
        return HandlerResult.handled("; ".join(notes))
    if len(skipped) == 1:
        return HandlerResult.skipped(skipped[0][1])
    return HandlerResult.skipped("; ".join(f"{m.name}: {reason}" for m, reason in skipped))


def _log_skip(event: DixaEvent, mapping: IvrMapping | None, reason: str) -> None:
    """One line per decision; a quarantine's reason names the person, the line does not."""
    if reason.startswith(QUARANTINE):
        reason = "quarantine"
    logger.info(
        "survey skipped: %s; account %s, event %s%s",
        reason,
        event.account_id,
        event.record.pk,
        f", mapping {mapping.pk}" if mapping else "",
    )


def conversation_abandoned_handle(event: DixaEvent) -> HandlerResult:
    return HandlerResult.skipped(
        "abandoned conversations (closed without an agent) are never surveyed"
    )


def survey_trigger_create(
    *, event: InboundEvent, mapping: IvrMapping, conversation: Conversation
) -> SurveyTrigger | str:
    """The new trigger, or the reason there is none. Idempotent per dedupe key."""
    reason = rules.first_skip_reason(mapping, conversation)
    if reason:
        return reason
    now = timezone.now()
    if mapping.once_per_conversation and conversation.csid is not None:
        dedupe_key = f"campaign:{mapping.campaign_id}:conversation:{conversation.csid}"
    else:
        dedupe_key = f"campaign:{mapping.campaign_id}:event:{event.pk}"
    existing = SurveyTrigger.objects.filter(account_id=mapping.account_id, dedupe_key=dedupe_key)
    if mapping.quarantine_days:
        # A twin is "already surveyed", not quarantined by itself: it is looked for first.
        # Without quarantine the unique dedupe key alone finds it, below.
        twin = existing.first()
        if twin is not None:
            return _already(twin)
        _lock_contacts(mapping.account_id, conversation)
        reason = _quarantined(mapping, conversation, now)
        if reason:
            return reason

    guid = uuid.uuid4()
    try:
        with transaction.atomic():
            trigger = SurveyTrigger.objects.create(
                account_id=mapping.account_id,
                mapping=mapping,
                inbound_event=event,
                guid=guid,
                dedupe_key=dedupe_key,
                campaign_id=mapping.campaign_id,
                csid=conversation.csid,
                respondent_email=(conversation.respondent_email or "").lower(),
                respondent_phone=conversation.respondent_phone or "",
                payload=campaign_member(conversation, guid=str(guid)),
                next_attempt_at=now + timedelta(minutes=mapping.delay_minutes),
                # Sent straight away below; the sweeper leaves it alone unless that is lost.
                queued_at=now if mapping.delay_minutes == 0 else None,
            )
    except IntegrityError:  # a twin (or a concurrent one) holds the unique dedupe key
        return _already(existing.first())
    if mapping.delay_minutes == 0:
        SURVEYS.publish_on_commit([trigger.pk])
    return trigger


def _already(trigger: SurveyTrigger | None) -> str:
    if trigger is None:
        return "already surveyed for this conversation and campaign"
    return f"already surveyed for this conversation and campaign (survey #{trigger.pk})"


def _lock_contacts(account_id: int, conversation: Conversation) -> None:
    """Serialise closes for the same person in one account until this transaction ends, so
    that two workers cannot both pass the quarantine check (PostgreSQL advisory locks; on
    SQLite every write transaction is serialised already)."""
    if connection.vendor != "postgresql":
        return
    contacts = {c for c in (conversation.respondent_email, conversation.respondent_phone) if c}
    for contact in sorted(c.lower() for c in contacts):  # one order: no deadlock
        digest = hashlib.sha256(f"{account_id}:{contact}".encode()).digest()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)]
            )


def _quarantined(mapping: IvrMapping, conversation: Conversation, now) -> str | None:
    if not mapping.quarantine_days:
        return None
    email, phone = conversation.respondent_email, conversation.respondent_phone
    recent = SurveyTrigger.objects.filter(
        account_id=mapping.account_id,
        status__in=LIVE_STATUSES,
        created_at__gte=now - timedelta(days=mapping.quarantine_days),
    )
    if email and recent.filter(respondent_email=email.lower()).exists():
        return f"{QUARANTINE}{email} was surveyed within {mapping.quarantine_days} days"
    if phone and recent.filter(respondent_phone=phone).exists():
        return f"{QUARANTINE}{phone} was surveyed within {mapping.quarantine_days} days"
    return None
