"""From a stored ConversationClosed event to survey triggers: one per mapping of the queue
whose rules pass, or a recorded reason why not."""

import hashlib
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

Status = SurveyTrigger.Status
# Triggers that count as "surveyed" for quarantine: sent, or on their way.
LIVE_STATUSES = (Status.PENDING, Status.SENDING, Status.DELIVERED, Status.HELD)


def conversation_closed_handle(event: DixaEvent) -> HandlerResult:
    conversation = event.conversation
    if not conversation.queue_id:
        return HandlerResult.skipped("the conversation has no queue, so no IVR mapping applies")
    mappings = list(
        IvrMapping.objects.filter(
            account_id=event.account_id, queue_id=conversation.queue_id, enabled=True
        )
    )
    if not mappings:
        return HandlerResult.skipped(f"no enabled IVR mapping for queue {conversation.queue_id}")

    created, skipped = [], []
    for mapping in mappings:
        outcome = survey_trigger_create(
            event=event.record, mapping=mapping, conversation=conversation
        )
        (created if isinstance(outcome, SurveyTrigger) else skipped).append((mapping, outcome))
    if created:
        notes = [f"survey #{t.pk} to campaign {m.campaign_id}" for m, t in created]
        notes += [f"{m.name}: skipped, {reason}" for m, reason in skipped]
        return HandlerResult.handled("; ".join(notes))
    if len(skipped) == 1:
        return HandlerResult.skipped(skipped[0][1])
    return HandlerResult.skipped("; ".join(f"{m.name}: {reason}" for m, reason in skipped))


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
    if existing.exists():
        return _already(existing.first())
    if mapping.quarantine_days:
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
    except IntegrityError:  # a concurrent twin won the unique dedupe key
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
        return f"quarantine: {email} was surveyed within {mapping.quarantine_days} days"
    if phone and recent.filter(respondent_phone=phone).exists():
        return f"quarantine: {phone} was surveyed within {mapping.quarantine_days} days"
    return None
