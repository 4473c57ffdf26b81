"""Dixa's webhook event catalogue.

Subscriptions name events in PascalCase (ConversationClosed); payloads carry them in
UPPER_SNAKE (CONVERSATION_CLOSED). Both spellings resolve to the PascalCase name.
"""

import re

EVENT_TYPES: tuple[str, ...] = (
    "ConversationCreated",
    "ConversationOpen",
    "ConversationPending",
    "ConversationPendingExpired",
    "ConversationClosed",
    "ConversationAbandoned",
    "ConversationEnqueued",
    "ConversationAssigned",
    "ConversationUnassigned",
    "ConversationTransferred",
    "ConversationNoteAdded",
    "ConversationMessageAdded",
    "ConversationTagAdded",
    "ConversationTagRemoved",
    "ConversationRated",
    "ConversationCustomAttributeUpdated",
    "ConversationEndUserReplaced",
    "ConversationMessageDeliverySent",
    "ConversationMessageDeliveryDelivered",
    "ConversationMessageDeliverySeen",
    "ConversationMessageDeliveryFailed",
    "ConversationMessageDeliveryInfo",
    "ConversationMessageDeliverySpamComplaint",
    "TypingStarted",
    "AgentBannedEnduser",
    "AgentUnbannedEnduser",
    "AgentBannedIp",
    "AgentUnbannedIp",
    "SLAEvaluationPending",
    "SLAEvaluationAchieved",
    "SLAEvaluationBreached",
    "SLAEvaluationVoided",
    "ConversationTranscriptionAdded",
)

_WORD_BOUNDARY = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def to_fqn(event_type: str) -> str:
    """ConversationClosed -> CONVERSATION_CLOSED; SLAEvaluationPending -> SLA_EVALUATION_PENDING."""
    return _WORD_BOUNDARY.sub("_", event_type).upper()


FQN_TO_TYPE: dict[str, str] = {to_fqn(name): name for name in EVENT_TYPES}
_COMPACT_TO_TYPE: dict[str, str] = {name.lower(): name for name in EVENT_TYPES}


def resolve(fqn_or_name: str) -> str | None:
    """The catalogue name for an event_fqn in either spelling, or None when it is unknown."""
    key = fqn_or_name.strip()
    return FQN_TO_TYPE.get(key.upper()) or _COMPACT_TO_TYPE.get(key.replace("_", "").lower())
